#!/bin/sh
# Assembles /rootfs, the whole file system of the distroless Node.js image (run as root in
# the 'rootfs' stage of Dockerfile.distroless, which has Debian's nodejs, icu-devtools and
# binutils). What goes in:
#   - /usr/bin/node and exactly the shared libraries `ldd /usr/bin/node` lists;
#   - the builtins Debian's libnode loads from /usr/share/nodejs (acorn, cjs-module-lexer,
#     undici...: their paths are read from the library itself);
#   - a rebuilt libicudata without the ICU data Node never reads (see trim_icu below);
#   - /etc/ld.so.cache, Debian's CA certificates, /etc/passwd and /etc/group for uid 1000,
#     /tmp, /kubeless and the server from /opt/kubeless.
# It then proves the result works in a chroot: the Intl/encoding fingerprint of
# intl-check.js must equal the one with Debian's full ICU data, and Express, a worker thread,
# fetch and an ESM import must load.
#
# ICU_LOCALES: "all" (default) keeps every locale. A space-separated list of languages
# (e.g. "en", or "en de fr") keeps only those languages' locales: about 18 MB smaller for
# "en", but Intl then formats, sorts and names things in other languages as the root
# locale does (like Node's old small-icu builds), so it is opt-in.
set -eu

ROOT=/rootfs
HERE=$(cd "$(dirname "$0")" && pwd)
ICU_LOCALES=${ICU_LOCALES:-all}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

say() { echo "distroless-rootfs: $*"; }

copy_node_and_libraries() {
    mkdir -p "$ROOT/usr/bin" "$ROOT/etc/ssl/certs" "$ROOT/tmp" "$ROOT/kubeless" "$ROOT/opt"
    cp -L /usr/bin/node "$ROOT/usr/bin/node"
    for lib in $(ldd /usr/bin/node | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
        cp --parents -L "$lib" "$ROOT/"
    done
    libnode=$(ldd /usr/bin/node | awk '$1 ~ /^libnode/ { print $3 }')
    for builtin in $(grep -aoh '/usr/share/nodejs/[A-Za-z0-9_./@-]*\.js' /usr/bin/node $libnode | sort -u); do
        if [ -f "$builtin" ]; then cp --parents -L "$builtin" "$ROOT/"; fi
    done
    cp /etc/ld.so.cache "$ROOT/etc/"
    cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/"
    cp -a /opt/kubeless "$ROOT/opt/kubeless"
    echo 'kubeless:x:1000:1000:kubeless:/nonexistent:/sbin/nologin' > "$ROOT/etc/passwd"
    echo 'kubeless:x:1000:' > "$ROOT/etc/group"
    chmod 1777 "$ROOT/tmp"
    chown 1000:1000 "$ROOT/kubeless"
}

# The ICU data package linked into libicudata.so.NN, as $FULL (icupkg wants the file named
# after the package: icudtNNl.dat, or icudtNNb.dat on big-endian machines).
extract_icu_data() {
    lib=$1 symbol=$2
    # file offset of the symbol = section offset + (symbol address - section address)
    set -- $(readelf -W --dyn-syms "$lib" | awk -v s="$symbol" '$8 == s { print $2, $3, $7 }')
    [ $# -eq 3 ] || { say "no $symbol in $lib"; exit 1; }
    address=$((0x$1)) size=$2 section=$3
    case $size in 0x*) size=$((size)) ;; esac
    set -- $(readelf -W -S "$lib" | sed 's/^ *\[ *\([0-9]*\)\]/\1/' | awk -v n="$section" '$1 == n { print $4, $5 }')
    offset=$((0x$2 + address - 0x$1))
    mkdir -p "$WORK/full" "$WORK/slim"
    dd if="$lib" of="$WORK/data" iflag=skip_bytes,count_bytes skip="$offset" count="$size" status=none
    for endian in l b; do
        FULL="$WORK/full/${symbol%_dat}$endian.dat" SLIM="$WORK/slim/${symbol%_dat}$endian.dat"
        cp "$WORK/data" "$FULL"
        if icupkg -l "$FULL" -o "$WORK/items.txt" 2>/dev/null; then return 0; fi
        rm "$FULL"
    done
    say "$symbol in $lib is not an ICU data package icupkg can read"
    exit 1
}

# Items Node never reads: transliterators, character names, spoof-check data, StringPrep
# profiles, and every converter table no WHATWG encoding (TextDecoder) maps to.
unused_icu_items() {
    grep -E '^translit/|^unames\.icu$|^confusables[A-Za-z]*\.cfu$|\.spp$' "$WORK/items.txt" || true
    : > "$WORK/keep-cnv.txt"
    # iso-2022-jp reads its JIS X 0208 table through the Shift-JIS converter
    for encoding in $(node "$HERE/intl-check.js" --encodings) Shift-JIS; do
        uconv --list-code "$encoding" 2>/dev/null | head -n 1 >> "$WORK/keep-cnv.txt" || true
    done
    grep '\.cnv$' "$WORK/items.txt" | while read -r item; do
        grep -qxF "${item%.cnv}" "$WORK/keep-cnv.txt" || echo "$item"
    done
}

# Locale bundles of languages outside ICU_LOCALES; each tree's res_index is rewritten to list
# only what is left, so Intl.*.supportedLocalesOf() tells the truth. The break-iterator tree
# (a few KB) stays whole: Chinese/Japanese word breaking reads brkitr/ja.res in any locale.
foreign_locale_items() {
    languages=$(echo "$ICU_LOCALES" | tr ' ,' '\n\n' | grep -v '^$' | sed 's/-/_/g')
    pattern="^($(echo "$languages" | paste -sd '|'))(_|\$)"
    grep -E '(^|/)[a-z]{2,3}(_[A-Za-z0-9_]*)?\.res$' "$WORK/items.txt" | grep -v '^brkitr/' |
    while read -r item; do
        name=$(basename "$item" .res)
        [ "$name" = res_index ] && continue
        echo "$name" | grep -qE "$pattern" || echo "$item"
    done
}

rewrite_res_indexes() {
    pattern=$1
    mkdir -p "$WORK/index"
    grep -E '(^|/)res_index\.res$' "$WORK/items.txt" | grep -v '^brkitr/' | while read -r item; do
        tree=$(dirname "$item")
        mkdir -p "$WORK/index/$tree" "$WORK/raw/$tree"
        icupkg -x "$item" -d "$WORK/raw" "$SLIM"
        # derb prints genrb source: keep every line but the entries of dropped locales, and
        # restore the nofallback flag derb leaves out (else res_index would inherit from "res")
        derb -s "$WORK/raw/$tree" -c res_index.res | awk -v keep="$pattern" '
            /^res_index *\{/ { print "res_index:table(nofallback) {"; next }
            /^        [A-Za-z0-9_]+ *\{ *"" *\}/ { name = $1; if (name !~ keep) next }
            { print }' > "$WORK/index/$tree/res_index.txt"
        genrb -q -d "$WORK/index/$tree" "$WORK/index/$tree/res_index.txt"
        echo "$item" >> "$WORK/index/list.txt"
    done
    icupkg -r "$WORK/index/list.txt" "$SLIM"
    icupkg -s "$WORK/index" -a "$WORK/index/list.txt" "$SLIM"
}

trim_icu() {
    lib=$(ldd /usr/bin/node | awk '$1 ~ /^libicudata\.so\./ { print $3 }')
    [ -n "$lib" ] || { say "node does not link libicudata; nothing to trim"; return 0; }
    major=$(basename "$lib" | sed 's/^libicudata\.so\.\([0-9]*\).*/\1/')
    symbol="icudt${major}_dat"
    extract_icu_data "$lib" "$symbol"
    unused_icu_items > "$WORK/remove.txt"
    if [ "$ICU_LOCALES" != all ]; then
        foreign_locale_items >> "$WORK/remove.txt"
    fi
    # icupkg refuses to drop an item a kept one depends on (windows-936 extends ibm-1386...)
    # and names it: keep those and retry, a bounded number of times.
    for _attempt in $(seq 1 50); do
        cp "$FULL" "$SLIM"
        if icupkg -r "$WORK/remove.txt" "$SLIM" 2> "$WORK/icupkg.err"; then break; fi
        needed=$(sed -n 's/.* depends on missing item \(.*\)$/\1/p' "$WORK/icupkg.err" | sort -u)
        if [ -z "$needed" ] || [ "$_attempt" = 50 ]; then cat "$WORK/icupkg.err"; exit 1; fi
        echo "$needed" > "$WORK/needed.txt"
        grep -vxF -f "$WORK/needed.txt" "$WORK/remove.txt" > "$WORK/remove.new" || true
        mv "$WORK/remove.new" "$WORK/remove.txt"
    done
    if [ "$ICU_LOCALES" != all ]; then
        languages=$(echo "$ICU_LOCALES" | tr ' ,' '\n\n' | grep -v '^$' | sed 's/-/_/g')
        rewrite_res_indexes "^(root|$(echo "$languages" | paste -sd '|'))(_|\$)"
    fi
    # The same library, smaller data: one exported symbol, 16-byte aligned, read-only.
    cat > "$WORK/icudata.s" <<EOF
    .section .rodata
    .balign 16
    .globl $symbol
    .type $symbol, %object
$symbol:
    .incbin "$SLIM"
    .size $symbol, . - $symbol
    .section .note.GNU-stack,"",%progbits
EOF
    as -o "$WORK/icudata.o" "$WORK/icudata.s"
    ld -shared -z noexecstack -soname "$(basename "$lib")" -o "$ROOT$lib" "$WORK/icudata.o"
    say "ICU data $(wc -c < "$FULL") -> $(wc -c < "$SLIM") bytes" \
        "($(wc -l < "$WORK/remove.txt") items removed, locales: $ICU_LOCALES)"
}

verify() {
    if [ "$ICU_LOCALES" = all ]; then locales=""; else
        locales=$(echo "$ICU_LOCALES" | tr ' ' '\n' | grep -v '^$' | paste -sd ',')
    fi
    cp "$HERE/intl-check.js" "$ROOT/tmp/intl-check.js"
    node "$HERE/intl-check.js" $locales > "$WORK/full.json"
    chroot "$ROOT" /usr/bin/node /tmp/intl-check.js $locales > "$WORK/slim.json"
    rm "$ROOT/tmp/intl-check.js"
    if ! cmp -s "$WORK/full.json" "$WORK/slim.json"; then
        say "the trimmed ICU data changes what Node does:"
        diff "$WORK/full.json" "$WORK/slim.json" | head -n 40
        exit 1
    fi
    if [ "$ICU_LOCALES" != all ] && [ "$(chroot "$ROOT" /usr/bin/node -p \
            'Intl.DateTimeFormat.supportedLocalesOf(["xx", "sw", "yo"]).length')" != 0 ]; then
        say "supportedLocalesOf still lists dropped locales"; exit 1
    fi
    chroot "$ROOT" /usr/bin/node -e '
        require("/opt/kubeless/node_modules/express");
        require("/opt/kubeless/node_modules/prom-client");
        require("/opt/kubeless/node_modules/morgan");
        new (require("worker_threads").Worker)("process.exit(0)", { eval: true });
        if (typeof fetch !== "function") process.exit(1);
        import("/opt/kubeless/node_modules/cors/lib/index.js").then((m) => { if (!m.default) process.exit(1); });'
    for absent in /bin/sh /usr/bin/sh /bin/bash /usr/bin/npm /usr/bin/apt /usr/bin/apt-get /usr/bin/dpkg; do
        if [ -e "$ROOT$absent" ]; then say "$absent must not be in the image"; exit 1; fi
    done
    say "verified: Intl (locales: $ICU_LOCALES) and encodings as with Debian's full ICU data; the server's modules load"
}

copy_node_and_libraries
trim_icu
verify
