#!/usr/bin/env bash
# The final speaker system (docs/speech.md, "The fused system through the command line") built and
# evaluated with `gmmkit speech` commands only, for one UBM seed of the Asterisk set:
#   clean branch = MFCC + LFCC fusion (CMVN prior TAU 600 both), noise branch = multi-condition
#   (noise10, noise20, telephone copies), band branch = band-passing 300-3400 Hz (CMVN prior BAND_TAU),
#   three-class detector whose margin t is chosen by the CLI on the development files (--dev/--dev-class).
#
#   bash benchmarks/run_speaker_cli_seed.sh CACHE WORK SEED [BAND_TAU]
#   bash benchmarks/run_speaker_cli_seed.sh /tmp/gmmkit-asterisk /tmp/cli-seeds 5
#
# CACHE: the Asterisk cache with lists.csv, enrol.csv, background.csv
#   (python benchmarks/bench_speaker_robust.py --prepare --cache CACHE).
# WORK: degraded test copies, trial lists and dev-files.txt go to WORK/degraded (written once, the
#   same for every seed); models, JSON outputs and log.txt go to WORK/seed<SEED>. A step whose output
#   exists is kept (a re-run resumes); delete WORK/seed<SEED> to start over.
# BAND_TAU: the band branch's CMVN-prior weight. Default: bench_speaker_fused.py's development choice
#   for that seed (600, 300, 600, 300, 300, 600, 300, 600 on seeds 0-7); the command line does not
#   choose it. Every UBM and the detector get --seed SEED.
# Prints each step's time and the load, the fusion weights and the margin, then the fused clean branch
# alone on the clean trials and one line per condition through the router:
#   ID % / EER % / minDCF (files sent to the clean / noise / band branch), and the two table rows.
set -euo pipefail

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
    echo "usage: $0 CACHE WORK SEED [BAND_TAU]" >&2
    exit 2
fi
C=$(cd "$1" && pwd)
WORK=$2
S=$3
case $S in ''|*[!0-9]*) echo "error: SEED must be a non-negative integer, got '$S'" >&2; exit 2;; esac
BAND_TAUS=(600 300 600 300 300 600 300 600)
if [ $# -eq 4 ]; then
    BT=$4
elif [ "$S" -lt ${#BAND_TAUS[@]} ]; then
    BT=${BAND_TAUS[$S]}
else
    echo "error: no development band TAU known for seed $S: give BAND_TAU" >&2
    exit 2
fi
for f in lists.csv enrol.csv background.csv; do
    [ -f "$C/$f" ] || { echo "error: $C/$f missing (bench_speaker_robust.py --prepare --cache $C)" >&2; exit 2; }
done
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
D=$WORK/degraded
O=$WORK/seed$S
mkdir -p "$O"
LOG=$O/log.txt

# step NAME OUTPUT COMMAND...: run COMMAND (timed, load logged) unless OUTPUT exists ("-": always run).
step() {
    local name=$1 out=$2
    shift 2
    if [ "$out" != - ] && [ -e "$out" ]; then
        echo "$name: $out exists, kept" | tee -a "$LOG"
        return
    fi
    echo "$(date -u +%H:%M:%S) $name: load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$LOG"
    echo "+ $*" >>"$LOG"
    local t0=$SECONDS
    "$@"
    echo "$name: $((SECONDS - t0)) s" | tee -a "$LOG"
}
# into FILE COMMAND...: COMMAND's standard output to FILE, written only if it succeeds.
into() {
    local f=$1
    shift
    "$@" >"$f.part"
    mv "$f.part" "$f"
}

if [ ! -f "$D/trials-telephone.csv" ] || [ ! -f "$D/dev-files.txt" ]; then
    step "degraded copies" - python "$HERE/bench_speaker_routed.py" --cache "$C" --write-degraded "$D"
fi
mapfile -t BG < <(awk -F, -v c="$C" '$3=="ubm"{print c "/" $2}' "$C/lists.csv")
mapfile -t DEVF < "$D/dev-files.txt"
[ ${#BG[@]} -gt 0 ] || { echo "error: no ubm rows in $C/lists.csv" >&2; exit 2; }
[ ${#DEVF[@]} -gt 0 ] || { echo "error: $D/dev-files.txt is empty" >&2; exit 2; }
DEV=()
for f in "${DEVF[@]}"; do DEV+=(--dev "$f"); done
MC=--multi-condition=noise10,noise20,telephone
U=(-k 256 --max-iter 50 --seed "$S" -q)
cd "$O"

step "mfcc ubm" mfcc.gmm gmmkit speech ubm "${BG[@]}" "${U[@]}" --cmvn-prior 600 -o mfcc.gmm
step "lfcc ubm" lfcc.gmm gmmkit speech ubm "${BG[@]}" "${U[@]}" --cmvn-prior 600 --filterbank linear -o lfcc.gmm
step "mfcc enrol" mfcc gmmkit speech enroll --ubm mfcc.gmm "$C/enrol.csv" -o mfcc/ -q
step "lfcc enrol" lfcc gmmkit speech enroll --ubm lfcc.gmm "$C/enrol.csv" -o lfcc/ -q
step "fusion" fusion.json into fusion.json gmmkit speech fusion -m mfcc/ -m lfcc/ "$C/enrol.csv" \
    --cohort "$C/background.csv" --top-n 50 -o fusion.gmm --json
step "mc ubm" mc.gmm gmmkit speech ubm "${BG[@]}" "${U[@]}" $MC -o mc.gmm
step "mc enrol" mc gmmkit speech enroll --ubm mc.gmm "$C/enrol.csv" $MC -o mc/ -q
step "band ubm (TAU $BT)" band.gmm gmmkit speech ubm "${BG[@]}" "${U[@]}" --band-pass 300-3400 --cmvn-prior "$BT" -o band.gmm
step "band enrol" band gmmkit speech enroll --ubm band.gmm "$C/enrol.csv" -o band/ -q
step "detector" det.json into det.json gmmkit speech condition-detector "${BG[@]}" --class noise=noise10,noise20 \
    --class band=telephone --outlier-quantile 0 --seed "$S" "${DEV[@]}" --dev-class noise=noise10 \
    --dev-class band=telephone -o det.npz --json
step "evaluate clean, fused clean branch alone" alone-clean.json into alone-clean.json gmmkit speech evaluate \
    --fusion fusion.gmm "$D/trials-clean.csv" --cohort "$C/background.csv" --json
for cond in clean noise10 telephone; do
    step "evaluate $cond" "routed-$cond.json" into "routed-$cond.json" gmmkit speech evaluate --fusion fusion.gmm \
        "$D/trials-$cond.csv" --cohort "$C/background.csv" --detector det.npz --branch noise=mc/ --branch band=band/ --json
done

python - "$S" "$BT" <<'EOF' | tee -a "$LOG"
import json, sys
s, bt = sys.argv[1:]
fu, det = json.load(open("fusion.json")), json.load(open("det.json"))
dev = det.get("dev", {})
print(f"seed {s}: fusion weights MFCC {fu['weights'][0]:.3f}, LFCC {fu['weights'][1]:.3f}, offset {fu['offset']:.3f}; "
      f"band TAU {bt}; margin t = {det['margin']:g} nats ({dev.get('misrouted', '?')} of {dev.get('routed', '?')} "
      "development files misrouted)")
a = json.load(open("alone-clean.json"))
alone = f"{100 * a['identification_accuracy']:.1f} / {100 * a['eer']:.2f} / {a['min_dcf']:.3f}"
print(f"seed {s} clean, fused clean branch alone: ID / EER / minDCF {alone}")
cells = []
for cond in ("clean", "noise10", "telephone"):
    r = json.load(open(f"routed-{cond}.json"))
    n = r["routed"]
    cells.append(f"{100 * r['identification_accuracy']:.1f} / {100 * r['eer']:.2f} / {r['min_dcf']:.3f} "
                 f"({n.get('clean', 0)} / {n.get('noise', 0)} / {n.get('band', 0)})")
    print(f"seed {s} {cond:9s} ID / EER / minDCF {cells[-1]}")
print(f"| {s}: command line, fused clean branch alone | {alone} | - | - |")
print(f"| {s}: command line, routed, fused clean branch, t = {det['margin']:g} | " + " | ".join(cells) + " |")
EOF
