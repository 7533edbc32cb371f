import os


def get_env(name, valtype, default=None):
    if valtype is bool:
        val = os.environ.get(name)
        if val is not None:
            if val.lower() in ("true", "false"):
                return val.lower() == "true"
            raise ValueError(f"Strange boolean environment variable value '{val}'")
    elif name in os.environ:
        return valtype(os.environ[name])
    if default is not None:
        return default
    raise ValueError(f"Missing environment variable '{name}'")
