#!/usr/bin/env bash
# Builds the Dockerfile's base images, debian:12 and debian:12-slim, from a Debian mirror with
# debootstrap, for builders that reach Debian's archive but not Docker Hub (air-gapped sites with a
# mirror, this project's build machines). Run as root, with docker and debootstrap installed:
#
#   deploy/debian_base_images.sh [--mirror URL] [--tag PREFIX]
#   docker build -f deploy/Dockerfile --build-arg DEBIAN_IMAGE=PREFIX/debian:12 -t videogen .
#
# PREFIX (default videogen-base) names the images PREFIX/debian:12 and PREFIX/debian:12-slim.
# Both are Debian 12 "minbase" systems (essential packages and apt), as Docker Hub's are; the slim
# one drops documentation, manual pages and translations and keeps later packages from installing
# them, as Docker Hub's slim image does.
set -euo pipefail

mirror=http://deb.debian.org/debian
prefix=videogen-base
while (($#)); do
  case "$1" in
    --mirror) mirror="$2"; shift 2 ;;
    --tag) prefix="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "debian_base_images: error: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
for tool in debootstrap docker tar; do
  command -v "$tool" >/dev/null ||
    { echo "debian_base_images: error: $tool not found" >&2; exit 1; }
done

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
# Docker Hub's images: no recommended packages, apt lists and caches not kept in the image.
cat > "$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
EOF
echo 'APT::Install-Recommends "false";' > "$root/etc/apt/apt.conf.d/docker-no-recommends"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
tar -C "$root" -c . | docker import - "$prefix/debian:12" >/dev/null
echo "$prefix/debian:12"

cat > "$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/groff/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
EOF
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/{man,info,groff,linda,lintian}/*
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
tar -C "$root" -c . | docker import - "$prefix/debian:12-slim" >/dev/null
echo "$prefix/debian:12-slim"
