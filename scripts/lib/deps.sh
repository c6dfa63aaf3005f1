# shellcheck shell=bash
# Installs the Debian packages that building and testing otelc need, and nothing when they are
# already there. Sourced by scripts/demo and scripts/test-all; call otel_ensure_deps build|all.

# Enough to configure and build every library and example (protobuf-c, nghttp2, OpenSSL, libcurl
# and zlib are for the OTLP exporter; libmicrohttpd and libcurl for the HTTP examples).
OTEL_DEPS_BUILD=(
    build-essential cmake ninja-build pkg-config libcmocka-dev
    libprotobuf-c-dev protobuf-c-compiler libnghttp2-dev libssl-dev libcurl4-openssl-dev zlib1g-dev
    libmicrohttpd-dev
)
# Only the test suite needs these.
OTEL_DEPS_TEST=(valgrind clang libclang-rt-14-dev nodejs npm)

# Prints the packages of "$@" that dpkg does not report as installed, one per line.
otel_missing_packages()
{
    local installed
    installed=$(dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null |
        awk '$NF == "installed" { print $1 }')
    local p
    for p in "$@"; do
        grep -qxF "$p" <<<"$installed" && continue
        # A nodejs from another source (e.g. NodeSource) ships npm itself and conflicts with
        # Debian's npm package: the commands are what matter.
        case "$p" in
        nodejs) command -v node >/dev/null 2>&1 && continue ;;
        npm) command -v npm >/dev/null 2>&1 && continue ;;
        esac
        echo "$p"
    done
}

# otel_ensure_deps build|all: installs what is missing with apt-get (through sudo when not root).
otel_ensure_deps()
{
    local pkgs=("${OTEL_DEPS_BUILD[@]}")
    [ "${1:-all}" = all ] && pkgs+=("${OTEL_DEPS_TEST[@]}")

    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        echo "deps: not a Debian-like system; make sure these are installed: ${pkgs[*]}" >&2
        return 0
    fi
    local missing
    mapfile -t missing < <(otel_missing_packages "${pkgs[@]}")
    [ "${#missing[@]}" -eq 0 ] && return 0

    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            echo "deps: missing ${missing[*]}, and not root without sudo: install them and retry" >&2
            return 1
        fi
    fi
    echo "deps: installing ${missing[*]}"
    local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o Dpkg::Use-Pty=0)
    local try
    for try in 1 2; do
        if "${apt[@]}" update -qq && "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" </dev/null; then
            break
        fi
        [ "$try" = 2 ] && { echo "deps: apt-get failed" >&2; return 1; }
        sleep 5
    done
    mapfile -t missing < <(otel_missing_packages "${pkgs[@]}")
    if [ "${#missing[@]}" -ne 0 ]; then
        echo "deps: still missing after apt-get: ${missing[*]}" >&2
        return 1
    fi
}
