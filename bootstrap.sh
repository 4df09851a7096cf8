#!/usr/bin/env bash
# Set up CNN Studio on a fresh machine, then run it or its tests.
#   bash bootstrap.sh run [app arguments]   installs what is missing, then launches the app
#   bash bootstrap.sh test [pytest args]    installs what is missing, then runs the whole test suite headless
# It creates .venv beside this file and installs the package with its test extra there. As root on
# Debian/Ubuntu it also installs the system libraries Qt needs (headless for tests, X11 for the app) and,
# when the distribution has it, Fashion-MNIST (dataset-fashion-mnist: the Training dock then offers it).
set -euo pipefail
cd "$(dirname "$0")"
mode="${1:-run}"; shift || true

QT_HEADLESS_LIBS="libgl1 libegl1 libxkbcommon0 libfontconfig1 libglib2.0-0 libdbus-1-3 libgomp1"
QT_X11_LIBS="libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0 libxcb-shape0 \
libxcb-xkb1 libxkbcommon-x11-0"
# Nice to have, never required: skipped without a word where apt has no such package, not root, or it fails.
OPTIONAL_PKGS="dataset-fashion-mnist"

is_optional() { case " $OPTIONAL_PKGS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

apt_install() {  # install the named Debian packages that are missing, when we can
    local missing=() required=() optional=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        for pkg in "${missing[@]}"; do  # apt-get install fails on an unknown name: leave those out
            if ! apt-cache show "$pkg" >/dev/null 2>&1; then
                is_optional "$pkg" || echo "bootstrap: this system has no package $pkg: skipped" >&2
            elif is_optional "$pkg"; then optional+=("$pkg")
            else required+=("$pkg")
            fi
        done
        if [ ${#required[@]} -gt 0 ]; then
            echo "bootstrap: installing system packages: ${required[*]}"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${required[@]}" >/dev/null
        fi
        if [ ${#optional[@]} -gt 0 ]; then
            echo "bootstrap: installing optional packages: ${optional[*]}"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${optional[@]}" \
                >/dev/null 2>&1 || echo "bootstrap: could not install ${optional[*]}: skipped" >&2
        fi
    else
        for pkg in "${missing[@]}"; do is_optional "$pkg" || required+=("$pkg"); done
        if [ ${#required[@]} -gt 0 ]; then
            echo "bootstrap: please install these system packages: ${required[*]}" >&2
        fi
    fi
}

PYTHON="${PYTHON:-python3}"
if command -v dpkg-query >/dev/null; then
    if [ "$mode" = "test" ]; then apt_install $QT_HEADLESS_LIBS $OPTIONAL_PKGS
    else apt_install $QT_HEADLESS_LIBS $QT_X11_LIBS $OPTIONAL_PKGS; fi
    "$PYTHON" -c "import venv, ensurepip" 2>/dev/null || apt_install python3-venv
fi
if [ ! -x .venv/bin/python ]; then
    echo "bootstrap: creating .venv"
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.cnnstudio-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "bootstrap: installing cnnstudio and its dependencies into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[test]"
    touch "$stamp"
fi

# Compile the engine's kernels now (a second when they are cached: the cache follows the engine's sources),
# so the app's first training run, and a quit during it, never wait tens of seconds for the compiler.
.venv/bin/python -m cnnstudio.engine.warmup || echo "bootstrap: the kernels will compile on first use" >&2

case "$mode" in
    run)  exec .venv/bin/cnnstudio "$@" ;;
    test) export QT_QPA_PLATFORM=offscreen; exec .venv/bin/python -m pytest "$@" ;;
    *)    echo "usage: bash bootstrap.sh run|test [arguments]" >&2; exit 2 ;;
esac
