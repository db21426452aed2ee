#!/usr/bin/env bash
# Installs the Debian packages that `flowtts data synth` renders speech with.
#
#   scripts/install-system-deps.sh          # "core": espeak-ng, flite, SVOX Pico, MBROLA + 6 voices, and
#                                           # chromium (the server's demo-page test) (CI uses this)
#   scripts/install-system-deps.sh --full   # every voice the corpus builder knows (about 450 MB installed)
#
# MBROLA, its voices, Pico and RHVoice live in Debian's contrib/non-free components, which a default
# bookworm install does not list. We read them through a private APT configuration kept under
# $FLOWTTS_APT_DIR (default $FLOWTTS_CACHE/apt, else ~/.cache/flowtts/apt), so the system's sources
# lists are never edited.
# Must run as root (or through sudo). Idempotent: a second run installs nothing new.
set -euo pipefail

tier=core
case "${1:-}" in
  --full) tier=full ;;
  --core|"") tier=core ;;
  -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
  *) echo "install-system-deps: unknown option '$1' (use --core or --full)" >&2; exit 2 ;;
esac

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-system-deps: run as root (no sudo found)" >&2; exit 1; }
  SUDO="sudo"
fi

main_core=(espeak-ng libespeak-ng1 flite chromium)  # chromium: headless test of the server's demo page
main_full=(festival festival-hi festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
           festvox-italp16k festvox-itapc16k festvox-hi-nsk)
nonfree_core=(mbrola mbrola-us1 mbrola-us2 mbrola-en1 mbrola-fr1 mbrola-fr2 mbrola-de2 libttspico-utils)
nonfree_full=(mbrola-us3 mbrola-fr3 mbrola-fr4 mbrola-fr5 mbrola-fr6 mbrola-fr7 mbrola-ca1
              mbrola-de1 mbrola-de3 mbrola-de4 mbrola-de5 mbrola-de6 mbrola-de7
              mbrola-es1 mbrola-es2 mbrola-es3 mbrola-es4 mbrola-mx1 mbrola-mx2 mbrola-vz1
              mbrola-it1 mbrola-it2 mbrola-it3 mbrola-it4 mbrola-pt1 mbrola-br1 mbrola-br2 mbrola-br3 mbrola-br4
              mbrola-nl2 mbrola-nl3 mbrola-ar1 mbrola-ar2 mbrola-in1 mbrola-in2
              rhvoice rhvoice-english)

# Private APT config: the machine's own Debian mirror, with contrib and non-free added.
apt_dir="${FLOWTTS_APT_DIR:-${FLOWTTS_CACHE:-$HOME/.cache/flowtts}/apt}"
mirror=$(grep -hoE 'https?://[^ ]*debian(/)?$|https?://[^ ]*/debian ' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
         | grep -v security | head -n1 | tr -d ' ' || true)
mirror="${mirror:-http://deb.debian.org/debian}"
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
mkdir -p "$apt_dir/lists/partial" "$apt_dir/etc"
echo "deb $mirror $codename main contrib non-free non-free-firmware" > "$apt_dir/etc/sources.list"
cat > "$apt_dir/apt.conf" <<EOF
Dir::Etc::sourcelist "$apt_dir/etc/sources.list";
Dir::Etc::sourceparts "/nonexistent";
Dir::State::lists "$apt_dir/lists";
APT::Sandbox::User "root";
EOF

pkgs=("${main_core[@]}" "${nonfree_core[@]}")
[ "$tier" = full ] && pkgs+=("${main_full[@]}" "${nonfree_full[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-system-deps: all ${#pkgs[@]} packages of tier '$tier' already installed"
  exit 0
fi

echo "install-system-deps: installing ${#missing[@]} packages (tier '$tier') from $mirror"
export DEBIAN_FRONTEND=noninteractive
$SUDO env APT_CONFIG="$apt_dir/apt.conf" apt-get update -qq
$SUDO env APT_CONFIG="$apt_dir/apt.conf" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-system-deps: done"
