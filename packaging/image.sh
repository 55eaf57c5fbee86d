#!/usr/bin/env bash
# Builds the connector image (packaging/Containerfile) from a static source-instagram binary:
#   bash packaging/image.sh target/x86_64-unknown-linux-musl/release/source-instagram-wasm [TAG]
# The context (target/image-context) holds a static busybox with its applets, the binary,
# /etc/passwd with the non-root user `airbyte` (1000), and the compiled-component cache,
# filled by running the binary once (the cache is rebuilt at start-up if the CPU differs).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$1"
tag="${2:-airbyte/source-instagram-wasm:0.1.0}"
file "$bin" | grep -qE "statically linked|static-pie linked" || { echo "image.sh: $bin is not a static binary" >&2; exit 1; }
busybox="$(command -v busybox)"
file -L "$busybox" | grep -q "statically linked" || { echo "image.sh: install Debian's busybox-static" >&2; exit 1; }

ctx=target/image-context
rm -rf "$ctx"
mkdir -p "$ctx"/rootfs/{bin,usr/local/bin,etc,tmp,home/airbyte} "$ctx/cache"
cp "$busybox" "$ctx/rootfs/bin/busybox"
for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$ctx/rootfs/bin/$applet"
done
cp "$bin" "$ctx/rootfs/usr/local/bin/source-instagram-wasm"
printf 'root:x:0:0:root:/root:/bin/sh\nairbyte:x:1000:1000:airbyte:/home/airbyte:/bin/sh\n' > "$ctx/rootfs/etc/passwd"
printf 'root:x:0:\nairbyte:x:1000:\n' > "$ctx/rootfs/etc/group"
chmod 1777 "$ctx/rootfs/tmp"
chmod 755 "$ctx/rootfs/home/airbyte"
SOURCE_INSTAGRAM_CACHE_DIR="$ctx/cache" "$bin" spec > /dev/null
bash packaging/podman.sh build --quiet -t "$tag" -f packaging/Containerfile "$ctx"
