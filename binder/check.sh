#!/usr/bin/env bash
# Reproduce what Binder does with this repository, without a container engine, and check
# that the result works:
#
#   1. copy the repository as Binder gets it: the files git tracks, nothing untracked (a
#      notebook JupyterLab saved into examples/, a build, a venv) can leak in;
#   2. let repo2docker itself pick the buildpack and render the Dockerfile
#      (`repo2docker --no-build`, which needs no engine), and take from it the build steps
#      that depend on this repository (requirements.txt, postBuild);
#   3. in a fresh `python -m venv` standing in for the image's conda environment, install
#      what repo2docker's base environment installs (its pip-installable part), then run
#      those steps exactly as rendered, from the copy (HOME = REPO_DIR, like Binder);
#   4. start JupyterLab on the copy as Binder would (token, --allow-root, clean environment)
#      and check in headless Chromium that the README badge's `urlpath` opens
#      examples/welcome.ipynb, the chat panel attaches, the `demo` model streams, and the
#      notebook's own model works from the sidebar (binder/check_lab.py);
#   5. run the other example notebooks top to bottom with nbclient in that environment (the
#      one the badge opens already ran, cell by cell, in step 4's JupyterLab).
#
# Everything it starts is stopped by PID; its temporary directory is removed; it exits
# non-zero on any failure.
#
# `binder/check.sh --copy-only DIR` does step 1 alone, into DIR: the tests that need a
# clean copy of the repository (tests/browser/test_readme_run_command.py) make it so.
#
# Environment:
#   BINDER_CHECK_PYTHON   Python used to create the venvs and to drive Chromium (needs
#                         playwright); default: python3. Its version should be the one in
#                         binder/runtime.txt.
#   BINDER_CHECK_KEEP=1   keep the temporary directory (its path is printed).
#   REPO2DOCKER           an existing repo2docker executable (skips installing one).
#   BINDER_CHECK_LABEXTENSION
#                         a labextension already built from this same tree (the
#                         jupyter_deltachat/labextension of a clean copy, as the suite's
#                         README install leaves it): put into the copy before Binder's
#                         steps, so building the package skips its jlpm step (hatch's
#                         skip-if-exists); every step still runs as repo2docker renders it.
#   DELTACHAT_CHROMIUM    Chromium binary (default /usr/bin/chromium).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
python=${BINDER_CHECK_PYTHON:-python3}
started=$SECONDS
step() { printf '\n==> [binder check %4ds] %s\n' "$((SECONDS - started))" "$*"; }
fail() { echo "binder check FAILED: $*" >&2; exit 1; }
# pip warns once per package about this machine's optional local indexes: drop that noise.
quiet() { grep -v "^WARNING: Location 'file://.*' is ignored" || true; }
# The repository as a fresh clone has it: the files git tracks, as they are in the working
# tree (so uncommitted edits count); nothing untracked or ignored.
copy_tracked() {
    mkdir -p "$2"
    git -C "$1" ls-files -z \
        | (cd "$1" && xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh) \
        | tar -C "$1" --null -T - -cf - | tar -C "$2" -xf -
}

if [ "${1:-}" = "--copy-only" ]; then
    [ -n "${2:-}" ] || { echo "usage: $0 [--copy-only DIR]" >&2; exit 2; }
    copy_tracked "$repo" "$2"
    exit 0
fi

for tool in git node curl; do
    command -v "$tool" >/dev/null || fail "'$tool' is required"
done
"$python" -c 'import playwright' 2>/dev/null \
    || fail "$python has no playwright (pip install playwright; never 'playwright install')"

work=$(mktemp -d "${TMPDIR:-/tmp}/deltachat-binder-check.XXXXXX")
home="$work/home"   # Binder's REPO_DIR, which is also the user's HOME
env_dir="$work/env" # stands in for ${NB_PYTHON_PREFIX} = ${KERNEL_PYTHON_PREFIX}
lab_pid=""
lab_log="$work/lab.log"

stop_lab() {
    [ -n "$lab_pid" ] || return 0
    if kill -0 "$lab_pid" 2>/dev/null; then
        kill -TERM "$lab_pid" 2>/dev/null || true
        for _ in $(seq 1 200); do # up to 20 s for the server and its kernels to shut down
            kill -0 "$lab_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$lab_pid" 2>/dev/null; then
            echo "jupyter lab (pid $lab_pid) did not stop: killing its process group" >&2
            kill -KILL -- "-$lab_pid" 2>/dev/null || true
        fi
    fi
    wait "$lab_pid" 2>/dev/null || true
    # Kernels are in the server's process group (started with setsid): none may outlive it.
    if pgrep -g "$lab_pid" >/dev/null 2>&1; then
        kill -KILL -- "-$lab_pid" 2>/dev/null || true
    fi
    lab_pid=""
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_lab
    if [ "$status" -ne 0 ] && [ -f "$lab_log" ]; then
        echo "---- last lines of the JupyterLab log ----" >&2
        tail -n 60 "$lab_log" >&2 || true
    fi
    if [ "${BINDER_CHECK_KEEP:-}" = 1 ]; then
        echo "kept $work"
    else
        rm -rf "$work"
    fi
    if [ "$status" -eq 0 ]; then
        step "Binder check passed"
    else
        echo "binder check failed (exit $status)" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# -- 1. the repository as Binder gets it ------------------------------------------------
step "copying the repository (the files git tracks) to $home"
copy_tracked "$repo" "$home"
[ -f "$home/binder/requirements.txt" ] || fail "binder/requirements.txt is missing"
if [ -n "${BINDER_CHECK_LABEXTENSION:-}" ]; then
    [ -f "$BINDER_CHECK_LABEXTENSION/static/style.js" ] \
        || fail "BINDER_CHECK_LABEXTENSION=$BINDER_CHECK_LABEXTENSION is not a built labextension"
    echo "using the labextension built from this tree at $BINDER_CHECK_LABEXTENSION"
    cp -R "$BINDER_CHECK_LABEXTENSION" "$home/jupyter_deltachat/labextension"
fi

# The badge in README.md: its urlpath is what Binder opens.
urlpath=$("$python" - "$home/README.md" <<'PY'
import re, sys, urllib.parse
text = open(sys.argv[1], encoding="utf-8").read()
links = re.findall(r"https://mybinder\.org/v2/gh/[^)\s\"'>]+", text)
if not links:
    sys.exit("README.md has no mybinder.org link")
paths = {urllib.parse.parse_qs(urllib.parse.urlsplit(u).query).get("urlpath", [""])[0] for u in links}
if len(paths) != 1 or "" in paths:
    sys.exit(f"README.md's Binder links disagree or lack a urlpath: {sorted(paths)}")
print(paths.pop().lstrip("/"))
PY
) || fail "could not read the Binder link from README.md"
echo "README's Binder urlpath: $urlpath"
notebook_path=${urlpath#lab/tree/}
[ "$notebook_path" != "$urlpath" ] || fail "urlpath '$urlpath' does not start with lab/tree/"
[ -f "$home/$notebook_path" ] || fail "urlpath '$urlpath' names a file that does not exist"

# -- 2. what repo2docker makes of it ------------------------------------------------------
if [ -n "${REPO2DOCKER:-}" ]; then
    r2d=$REPO2DOCKER
else
    step "installing jupyter-repo2docker in its own venv"
    "$python" -m venv "$work/r2d"
    "$work/r2d/bin/pip" install -q jupyter-repo2docker 2>&1 | quiet
    r2d="$work/r2d/bin/repo2docker"
fi
r2d_python=$(head -n1 "$r2d" | sed -n 's/^#!//p')
[ -x "$r2d_python" ] || r2d_python=$python
echo "repo2docker $("$r2d" --version)"

step "rendering Binder's Dockerfile with 'repo2docker --no-build' (no engine needed)"
(cd "$work" && "$r2d" --no-build --no-run --user-id 1000 --user-name jovyan "$home") \
    >"$work/Dockerfile" 2>"$work/repo2docker.log" \
    || { cat "$work/repo2docker.log" >&2; fail "repo2docker rejected the configuration"; }
cat "$work/repo2docker.log"
runtime_python=$(sed -n 's/^python-\([0-9.]*\)$/\1/p' "$home/binder/runtime.txt")
grep -q "Building conda environment for python=$runtime_python" "$work/repo2docker.log" \
    || fail "repo2docker did not pick Python $runtime_python from binder/runtime.txt"
local_python=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$local_python" != "$runtime_python" ]; then
    echo "WARNING: checking with Python $local_python; Binder uses $runtime_python" >&2
fi

# The build steps that use the repository: the RUN lines after the whole repository is
# copied in (COPY src/ ${REPO_DIR}/), continuation lines joined.
awk '
    /^COPY .* src\/ \$\{REPO_DIR\}\/$/ { copied = 1; next }
    !copied { next }
    /^RUN / { line = substr($0, 5); while (line ~ /\\$/ && (getline next_line) > 0) line = substr(line, 1, length(line) - 1) " " next_line; print line }
' "$work/Dockerfile" >"$work/steps.txt"
grep -q 'pip install --no-cache-dir -r "binder/requirements.txt"' "$work/steps.txt" \
    || fail "repo2docker's Dockerfile does not install binder/requirements.txt after copying the repository"
grep -qx './binder/postBuild' "$work/steps.txt" \
    || fail "repo2docker's Dockerfile does not run binder/postBuild"
echo "Binder's repository build steps:"
sed 's/^/    /' "$work/steps.txt"

# -- 3. the image's Python environment, then those steps -----------------------------------
step "fresh venv: what repo2docker's base environment installs"
"$python" -m venv "$env_dir"
base_specs=$("$r2d_python" - <<'PY'
import os, re, repo2docker
from ruamel.yaml import YAML
path = os.path.join(os.path.dirname(repo2docker.__file__), "buildpacks", "conda", "environment.yml")
specs = []
for dependency in YAML(typ="safe").load(open(path, encoding="utf-8"))["dependencies"]:
    name, _, version = re.match(r"([A-Za-z0-9_.-]+)\s*((=*)\S*)", str(dependency)).group(1, 3, 2)
    # python comes from the venv, node from this machine; jupyterhub-singleuser is a
    # conda-only package for launching through a hub, which this check does not use.
    if name in ("python", "nodejs", "pip", "jupyterhub-singleuser"):
        continue
    # conda's "name=1.2" means 1.2.*; "name==8.*" is the same in pip
    if version.startswith("=") and not version.startswith("=="):
        version = "=" + version + ("" if version.endswith("*") else ".*")
    specs.append(name + version)
print("\n".join(specs))
PY
)
echo "$base_specs" | sed 's/^/    /'
# shellcheck disable=SC2086
"$env_dir/bin/pip" install -q $base_specs 2>&1 | quiet

# Binder builds as an ordinary user with HOME = REPO_DIR, in a clean environment.
# YARN_GLOBAL_FOLDER reuses this machine's yarn cache for the labextension build.
build_env=(
    env -i
    "PATH=$env_dir/bin:/usr/local/bin:/usr/bin:/bin"
    "HOME=$home" "REPO_DIR=$home" "USER=${USER:-jovyan}" "LANG=C.UTF-8"
    "NB_PYTHON_PREFIX=$env_dir" "KERNEL_PYTHON_PREFIX=$env_dir" "CONDA_DIR=$env_dir"
    "YARN_GLOBAL_FOLDER=${YARN_GLOBAL_FOLDER:-$HOME/.yarn/berry}"
    "TMPDIR=$work"
)
# Node: Binder's comes from its conda base environment; here, this machine's.
node_dir=$(dirname "$(command -v node)")
build_env[2]="PATH=$env_dir/bin:$node_dir:/usr/local/bin:/usr/bin:/bin"
for var in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS PIP_CERT PIP_CONSTRAINT \
    PIP_DEFAULT_TIMEOUT PIP_DISABLE_PIP_VERSION_CHECK PIP_CONFIG_FILE \
    HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy \
    NPM_CONFIG_REGISTRY YARN_NPM_REGISTRY_SERVER; do
    [ -n "${!var:-}" ] && build_env+=("$var=${!var}")
done

while IFS= read -r command; do
    step "RUN $command"
    (cd "$home" && "${build_env[@]}" bash -euo pipefail -c "$command" </dev/null) 2>&1 | quiet
done <"$work/steps.txt"

"$env_dir/bin/python" -c 'import jupyter_deltachat' \
    || fail "jupyter_deltachat is not importable in the Binder environment"
"$env_dir/bin/python" - <<'PY' || fail "the environment lacks what binder/requirements.txt asks for"
from importlib.metadata import version
for dist in ("openai", "anthropic", "google-genai", "groq", "boto3", "jupyterlab", "ipykernel"):
    print(f"    {dist} {version(dist)}")
PY

# -- 4. JupyterLab as Binder starts it, checked in Chromium -------------------------------
port=""
for candidate in $(seq 18900 18999); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then
        port=$candidate
        break
    fi
done
[ -n "$port" ] || fail "no free port in 18900-18999"
token=$("$python" -c 'import secrets; print(secrets.token_hex(16))')
run_env=("${build_env[@]}")
run_env[2]="PATH=$env_dir/bin:/usr/local/bin:/usr/bin:/bin"

step "starting JupyterLab on port $port (root dir: the repository copy)"
(
    cd "$home"
    exec setsid "${run_env[@]}" "$env_dir/bin/jupyter" lab --no-browser --allow-root \
        --ip=127.0.0.1 --port="$port" --ServerApp.port_retries=0 \
        --IdentityProvider.token="$token" --ServerApp.root_dir="$home" \
        --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate
) >"$lab_log" 2>&1 &
lab_pid=$!
base="http://127.0.0.1:$port/"
deadline=$((SECONDS + 90))
until curl -fsS -o /dev/null "${base}api/status?token=$token" 2>/dev/null; do
    kill -0 "$lab_pid" 2>/dev/null || fail "jupyter lab exited"
    [ "$SECONDS" -lt "$deadline" ] || fail "jupyter lab did not answer within 90 s"
    sleep 0.2 # polling a starting server
done
echo "JupyterLab is up (pid $lab_pid)"
providers=$(curl -fsS -H "Authorization: token $token" "${base}deltachat/api/providers") \
    || fail "the server extension's REST API did not answer"
echo "GET /deltachat/api/providers: $(echo "$providers" | head -c 300)…"

step "headless Chromium: $urlpath, the chat panel, demo and notebook models"
"$python" "$repo/binder/check_lab.py" --url "$base" --token "$token" --urlpath "$urlpath" \
    --repo "$repo" --screenshot-dir "$work"

stop_lab
grep -q "Traceback" "$lab_log" && { grep -n -B2 -A12 Traceback "$lab_log" | head -80 >&2; fail "the JupyterLab log has a traceback"; }

# -- 5. the other examples, top to bottom, with nbclient in the Binder environment --------
# The badge's notebook is not run again: check_lab.py ran all its cells in JupyterLab.
others=()
for example in "$home"/examples/*.ipynb; do
    [ "$example" = "$home/$notebook_path" ] || others+=("./$(basename "$example")")
done
step "running the other example notebooks with nbclient: ${others[*]}"
(cd "$home/examples" && "${run_env[@]}" "$env_dir/bin/python" - "${others[@]}") <<'PY'
import sys, time
import nbformat
from nbclient import NotebookClient
for name in sys.argv[1:]:
    started = time.monotonic()
    nb = nbformat.read(name, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    print(f"    {name}: {len(nb.cells)} cells ran in {time.monotonic() - started:.1f} s")
PY
