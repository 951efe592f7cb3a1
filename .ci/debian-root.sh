# Shared by .ci/emulated-pi.sh and .ci/homeassistant.sh (sourced, not run).
#
#   LOG_NAME=my-step; source .ci/debian-root.sh
#
# Gives: say/fail (one line, prefixed [LOG_NAME]), timed phases (phase, phase_done,
# print_timings), an ERR trap that names the failing phase, and:
#   debian_userland DIR ARCH SUITE LABEL PACKAGE...
#       apt with a private state, cache and sources (APT::Architecture=ARCH, the host's Debian
#       mirror, signed-by the host's debian-archive-keyring) downloads PACKAGE... and their
#       dependencies; dpkg-deb -x unpacks them into DIR/root; DIR/packages.txt lists them.
#       No maintainer script runs: the userland is a folder of files, not an installed system.
#   cached_build BASE PREFIX KEY REBUILD BUILDER
#       CACHE_DIR=BASE/PREFIXKEY, made by `BUILDER TMPDIR` in BASE/.build-* and renamed into
#       place only when complete (a killed run leaves no half cache); REBUILD=1 replaces it.
# The caller's EXIT trap should call build_cleanup.
# Host needs: apt-get, dpkg-deb, debian-archive-keyring.

DEBIAN_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

say() { printf '[%s] %s\n' "$LOG_NAME" "$*"; }
fail() { printf '[%s] FAIL: %s\n' "$LOG_NAME" "$*" >&2; exit 1; }
PHASE="start"
PHASE_T0=0
TIMINGS=()
SCRIPT_T0=$(date +%s.%N)
# one line for an unexpected failure, from the outermost shell only
trap 'rc=$?; if [ "$BASH_SUBSHELL" -eq 0 ]; then printf "[%s] FAIL: %s (line %s: %s, exit %s)\n" "$LOG_NAME" "$PHASE" "$LINENO" "${BASH_COMMAND%%$'"'"'\n'"'"'*}" "$rc" >&2; fi; exit $rc' ERR
phase() { PHASE="$1"; PHASE_T0=$(date +%s.%N); say "== $PHASE"; }
phase_done() {
    local t1; t1=$(date +%s.%N)
    local dt; dt=$(awk -v a="$PHASE_T0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
    TIMINGS+=("$(printf '%-56s %7ss' "$PHASE" "$dt")")
    say "   $PHASE: ${dt}s"
}
print_timings() {
    local line end
    end=$(date +%s.%N)
    say "timings:"
    for line in ${TIMINGS[@]+"${TIMINGS[@]}"}; do say "   $line"; done
    say "   $(printf '%-56s %7ss' total "$(awk -v a="$SCRIPT_T0" -v b="$end" 'BEGIN{printf "%.1f", b-a}')")"
}

debian_host_tools() {
    command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || fail "needs apt-get and dpkg-deb (a Debian host)"
    [ -r "$DEBIAN_KEYRING" ] || fail "$DEBIAN_KEYRING missing: apt-get install debian-archive-keyring"
}

# The host's Debian mirrors (main archive and security), from its apt sources.
debian_mirror() {  # $1 = main|security
    local want=$1 uri
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk -v want="$want" '
        $1 == "deb" { line = $0; sub(/\[[^]]*\]/, "", line); split(line, f)
                      if ((want == "security") == (f[3] ~ /-security$/) && f[2] ~ /debian/) { print f[2]; exit } }' || true)
    if [ -z "$uri" ]; then
        uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v want="$want" '
            function flush() { if (u != "" && (want=="security") == (s ~ /-security/) && u ~ /debian/ && !done) { print u; done=1 } u=""; s="" }
            /^[[:space:]]*$/ { flush(); next }
            /^URIs:/ { u=$2 } /^Suites:/ { s=$0 } END { flush() }' || true)
    fi
    if [ -z "$uri" ]; then
        [ "$want" = security ] && uri=http://deb.debian.org/debian-security || uri=http://deb.debian.org/debian
    fi
    printf '%s\n' "${uri%/}"
}

debian_userland() {  # DIR ARCH SUITE LABEL PACKAGE...
    local dir=$1 arch=$2 suite=$3 label=$4; shift 4
    local apt="$dir/apt" root="$dir/root" main_uri sec_uri
    main_uri=$(debian_mirror main)
    sec_uri=$(debian_mirror security)
    mkdir -p "$apt"/{lists/partial,archives/partial,etc/sources.list.d,etc/preferences.d} "$root"
    : > "$apt/status"
    {
        echo "deb [arch=$arch signed-by=$DEBIAN_KEYRING] $main_uri $suite main"
        echo "deb [arch=$arch signed-by=$DEBIAN_KEYRING] $main_uri $suite-updates main"
        echo "deb [arch=$arch signed-by=$DEBIAN_KEYRING] $sec_uri $suite-security main"
    } > "$apt/etc/sources.list"
    local O=(-o APT::Architecture="$arch" -o APT::Architectures="$arch"
             -o Dir::State="$apt" -o Dir::State::Lists="$apt/lists" -o Dir::State::status="$apt/status"
             -o Dir::Cache="$apt" -o Dir::Cache::archives="$apt/archives"
             -o Dir::Cache::pkgcache="$apt/pkgcache.bin" -o Dir::Cache::srcpkgcache="$apt/srcpkgcache.bin"
             -o Dir::Etc::SourceList="$apt/etc/sources.list" -o Dir::Etc::SourceParts="$apt/etc/sources.list.d"
             -o Dir::Etc::Preferences="$apt/etc/preferences" -o Dir::Etc::PreferencesParts="$apt/etc/preferences.d"
             -o Debug::NoLocking=1 -o APT::Install-Recommends=false -o APT::Install-Suggests=false
             -o Acquire::Languages=none -o APT::Keep-Downloaded-Packages=true)
    # as root, apt downloads as _apt, who cannot enter a private folder under /root
    [ "$(id -u)" -ne 0 ] || O+=(-o APT::Sandbox::User=root)

    phase "$label: apt update ($suite $arch from $main_uri)"
    apt-get "${O[@]}" -q update > "$dir/apt-update.log" 2>&1 \
        || { tail -5 "$dir/apt-update.log" >&2; fail "$label: apt-get update for $suite $arch failed"; }
    if grep -qE '^(W|E):' "$dir/apt-update.log"; then
        grep -E '^(W|E):' "$dir/apt-update.log" >&2
        fail "$label: apt-get update for $suite $arch reported problems (signatures?)"
    fi
    phase_done

    phase "$label: apt download $1 + libraries"
    apt-get "${O[@]}" -q -y install --download-only "$@" > "$dir/apt-install.log" 2>&1 \
        || { tail -15 "$dir/apt-install.log" >&2; fail "$label: apt could not resolve or download the $suite $arch packages"; }
    local debs=("$apt"/archives/*.deb)
    [ -e "${debs[0]}" ] || fail "$label: apt downloaded no .deb"
    say "   ${#debs[@]} packages, $(du -sh "$apt/archives" | cut -f1)"
    phase_done

    phase "$label: unpack with dpkg-deb -x"
    local deb
    for deb in "${debs[@]}"; do
        dpkg-deb -x "$deb" "$root"
        dpkg-deb -f "$deb" Package Version | paste -sd' ' >> "$dir/packages.txt"
    done
    # merged /usr (trixie ships everything under usr/): the aliases a real system has. dpkg-deb
    # -x would replace symlinks made beforehand, so they are added afterwards where missing.
    local d
    for d in bin sbin lib lib64; do
        [ -e "$root/usr/$d" ] || continue
        [ -e "$root/$d" ] || [ -L "$root/$d" ] || ln -s "usr/$d" "$root/$d"
    done
    rm -rf "$apt"
    phase_done
}

BUILD_TMP=""
build_cleanup() { [ -n "$BUILD_TMP" ] && rm -rf "$BUILD_TMP"; return 0; }

cached_build() {  # BASE PREFIX KEY REBUILD BUILDER
    local base=$1 prefix=$2 key=$3 rebuild=$4 builder=$5 final tmp
    final="$base/$prefix$key"
    mkdir -p "$base"
    # leftovers of runs that were killed before their trap ran
    find "$base" -maxdepth 1 -name '.build-*' -mmin +360 -exec rm -rf {} + 2>/dev/null || true
    if [ -d "$final" ] && [ "$rebuild" -eq 0 ]; then
        touch "$final"
    else
        tmp=$(mktemp -d "$base/.build-${prefix}XXXXXX")
        chmod 755 "$tmp"
        BUILD_TMP=$tmp
        "$builder" "$tmp"
        if [ "$rebuild" -eq 1 ] && [ -d "$final" ]; then  # replaced only once the new one is complete
            mv -T "$final" "$tmp.old" && rm -rf "$tmp.old"
        fi
        if ! mv -T "$tmp" "$final" 2>/dev/null; then
            say "another run finished $final first; using it"
            rm -rf "$tmp"
        fi
        BUILD_TMP=""
        # older builds that nobody used for two weeks
        find "$base" -maxdepth 1 -name "$prefix*" ! -name '.*' ! -name "$prefix$key" -mtime +14 \
            -exec rm -rf {} + 2>/dev/null || true
    fi
    CACHE_DIR=$final
}
