#!/bin/bash
# Train architectures at the default proxy fidelity with the given training seeds, one JSON per run in this
# folder (a finished run is kept). Paired checks of the rediscovery searches' findings at seeds each search
# never used (its own seed repeats the data and initialisation it picked its networks on):
#   results/rediscovery/confirm/confirm.sh "0 2 3" w0.75-d1:S-none-k1-crelu-prelu-pw bin_mobilenet_sp            # uniform-s1
#   results/rediscovery/confirm/confirm.sh "1 2 3" w1.25-d1:S-post-k2-2xdw-prelu-all \
#       w0.5-d1:S-mid-k4-crelu-prelu-all mobinet_mid_k4_prelu bin_mobilenet_sp                                    # uniform-s0
#   results/rediscovery/confirm/confirm.sh "1 2 3" \
#       w0.7-d1:S-pre-k1-crelu-prelu-pw:LS-none-k0-copy-prelu-pw:L-none-k0-prelu-pw:S-post-k1-copy-prelu-all:S-none-k3-2xdw-prelu-pw \
#       bin_mobilenet_sp                                                                                          # per-stage
# then: python results/rediscovery/confirm/pairs.py
cd "$(dirname "$0")/../../.."  # the repository root
seeds=$1; shift
for S in $seeds; do
  for A in "$@"; do
    f=results/rediscovery/confirm/$(echo "$A" | tr ':' '_')-s$S.json
    [ -s "$f" ] && continue
    taskset -c 1 python -m proxies.evaluate "$A" --data-dir ../shared/data/cifar10 --seed "$S" --json > "$f.tmp" 2>/dev/null \
      && mv "$f.tmp" "$f"
  done
done
