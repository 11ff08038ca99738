#!/bin/bash
# paired confirmation of rediscovery-uniform-s1's best against MobileNet-Sp, at seeds the search never used
cd "$(dirname "$0")/../../.."  # the repository root
for S in 0 2 3; do
  for A in "w0.75-d1:S-none-k1-crelu-prelu-pw" bin_mobilenet_sp; do
    f=results/rediscovery/confirm/$(echo $A | tr ':' '_')-s$S.json
    [ -s $f ] && continue
    taskset -c 1 python -m proxies.evaluate "$A" --data-dir ../shared/data/cifar10 --seed $S --json > $f.tmp 2>/dev/null && mv $f.tmp $f
  done
done
echo "confirm done $(date)"
