"""Zeus 0.8's recurring-job tree where the newer Zeus keeps it (``zeus._legacy``)."""
