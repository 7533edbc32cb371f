#!/bin/sh
# Makes the man pages from the commands' own --help text (help2man), so a page never says
# something --help does not: scripts/make-man.sh BUILD_DIR OUT_DIR VERSION.
# One line per page: page name, section, command line (relative to BUILD_DIR), description.
# A new subcommand gets a line here.
set -eu
build=$1
out=$2
version=$3
mkdir -p "$out"
# Run from the build tree, --help names the clone's data/ (zeus simulate's traces); an installed
# page names the prefix's: the clone's path becomes @ZEUS_DATADIR@, which the install step
# (packaging/CMakeLists.txt) replaces with PREFIX/share/zeus. No other path of this machine may
# be left in a page.
src=$(cd "$(dirname "$0")/.." && pwd)
build_abs=$(cd "$build" && pwd)
wrappers=$(mktemp -d)
trap 'rm -rf "$wrappers"' EXIT
pages='zeus|1|zeus|measure and cut the energy GPUs spend on deep learning
zeus-show-env|1|zeus show-env|show the library, backends, GPUs and CPUs Zeus sees
zeus-monitor-energy|1|zeus monitor energy|time and energy of a command on every GPU and CPU
zeus-monitor-power|1|zeus monitor power|stream GPU and CPU power samples
zeus-demo|1|zeus demo|optimize the power limit of a simulated training job
zeus-power-limit|1|zeus power-limit|show, set or reset GPU power limits
zeus-simulate|1|zeus simulate|replay the NSDI'"'"'23 traces with the batch-size optimizers and compare policies
zeus-pipeline-frequency|1|zeus pipeline-frequency|the pipeline frequency optimizer (Perseus): solve and serve plans
zeus-pipeline-frequency-solve|1|zeus pipeline-frequency solve|the time-energy frontier and frequency plans of a pipeline
zeus-pipeline-frequency-serve|1|zeus-pfo serve|the pipeline frequency server: each rank'"'"'s frequency plan
zeus-run|1|zeus-run|drive a recurring job'"'"'s recurrences
zeus-history|1|zeus-history|a recurring job'"'"'s trials and the bandit'"'"'s beliefs
zeus-bso|1|zeus-bso serve|the batch-size optimizer service
zeus-exporter|1|zeus-exporter|Prometheus metrics of every GPU and CPU
zeusd|8|src/zeusd/zeusd|the privileged Zeus daemon: GPU settings for unprivileged jobs'
printf '%s\n' "$pages" | while IFS='|' read -r page section command description; do
  exe=${command%% *}
  [ -x "$build/$exe" ] || continue # a face not built here (no libmicrohttpd, ...)
  # help2man documents one executable: a wrapper named for the page runs the command line.
  printf '#!/bin/sh\nexec %s/%s "$@"\n' "$build" "$command" > "$wrappers/$page"
  chmod +x "$wrappers/$page"
  help2man --no-info --no-discard-stderr --section="$section" --name="$description" \
    --version-string="$version" --output="$out/$page.$section" "$wrappers/$page"
  # help2man writes a '-' as '\-': both spellings of each path
  SRC_DATA="$src/data" ROFF_SRC_DATA=$(printf '%s' "$src/data" | sed 's/-/\\-/g') \
    perl -pi -e 's/(?:^|(?<=[\s"=(:,\[]))(?:\Q$ENV{ROFF_SRC_DATA}\E|\Q$ENV{SRC_DATA}\E)/\@ZEUS_DATADIR\@/g' "$out/$page.$section"
  for dir in "$src" "$build_abs"; do
    if "$src/scripts/names-machine-path.sh" "$dir" "$out/$page.$section" >&2; then
      echo "make-man.sh: $page.$section names this machine's $dir (above)" >&2
      exit 1
    fi
  done
done
