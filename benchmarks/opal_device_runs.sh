#!/usr/bin/env bash
# All OPAL throughput measurements of benchmarks/README.md on a machine with two H200s:
#   benchmarks/opal_device_runs.sh one OUTDIR   # one GPU: LoRA r64 and full fine-tuning
#   benchmarks/opal_device_runs.sh two OUTDIR   # two GPUs: full fine-tuning (ZeRO-2), LoRA, the 2-GPU test
#   benchmarks/opal_device_runs.sh all OUTDIR   # the main runs of both in one go
#   benchmarks/opal_device_runs.sh profile OUTDIR  # ZeRO-2's step profiled (unaligned / aligned parameters)
#   benchmarks/opal_device_runs.sh mfu OUTDIR      # MFU attempts: larger micro-batches, compiled decoder layers
#   benchmarks/opal_device_runs.sh mfu2 OUTDIR     # the compiled runs' OPAL modes; two GPUs against one, compiled
#   benchmarks/opal_device_runs.sh full1 OUTDIR    # full fine-tuning on one GPU at micro-batch 8 and 6, compiled
#   benchmarks/opal_device_runs.sh dynamic OUTDIR  # LoRA compiled with dynamic shapes (as training) and static
#   benchmarks/opal_device_runs.sh again OUTDIR    # the links and NCCL's bandwidth; LoRA and full on one GPU
#   benchmarks/opal_device_runs.sh zero2 OUTDIR    # ZeRO-2 on two GPUs with its communication settings varied
# Each run's log and JSON go to OUTDIR. PYTHONPATH must reach src/ (and DeepSpeed).
set -uo pipefail
phases="one|two|all|profile|mfu|mfu2|full1|dynamic|again|zero2"
usage="usage: benchmarks/opal_device_runs.sh {$phases} OUTDIR"
[ $# -eq 2 ] || { echo "$usage" >&2; exit 2; }
phase=$1; out=$2
case "|$phases|" in
  *"|$phase|"*) ;;
  *) echo "benchmarks/opal_device_runs.sh: error: no phase '$phase'; $usage" >&2; exit 2 ;;
esac
mkdir -p "$out"
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0
bench=(python benchmarks/opal_throughput.py --steps 5 --warmup 2)
run() { local name=$1; shift; echo "== $name: $*"; "$@" 2>&1 | grep -v -i warn; }
if [ "$phase" = profile ]; then  # ZeRO-2's two-GPU step profiled with and without aligned parameters, then measured
  two=(timeout 200 torchrun --standalone --nproc_per_node 2 "${bench[@]:1}" --tuning full --no-offload)
  run before "${two[@]}" --micro-batch 4 --gradient-checkpointing --generative-only --steps 2 --warmup 1 \
    --no-param-alignment --profile "$out/prof_before"
  run after "${two[@]}" --micro-batch 4 --gradient-checkpointing --generative-only --steps 3 --warmup 1 \
    --profile "$out/prof_after"
  run full2 "${two[@]}" --micro-batch 4 --gradient-checkpointing --json "$out/full2.json"
  CUDA_VISIBLE_DEVICES=0 run full1 timeout 200 "${bench[@]}" --tuning full --micro-batch 4 --no-offload \
    --gradient-checkpointing --zero-stage 0 --json "$out/full1.json"
  CUDA_VISIBLE_DEVICES=0 run lora1 timeout 200 "${bench[@]}" --tuning lora --micro-batch 8 --json "$out/lora1.json"
  run full2-nockpt "${two[@]}" --micro-batch 4 --generative-only --json "$out/full2nockpt.json"
  run gputest timeout 200 python -m pytest -q -m gpu tests/test_opal_gpu2.py
  run full2-mb8 "${two[@]}" --micro-batch 8 --gradient-checkpointing --generative-only
elif [ "$phase" = dynamic ]; then  # compiled as training compiles (automatic dynamic shapes) against static graphs
  CUDA_VISIBLE_DEVICES=0 run lora1-compile-dynamic timeout 240 "${bench[@]}" --tuning lora --micro-batch 8 --compile \
    --compile-dynamic --no-alternate --json "$out/lora1dynamic.json"
  CUDA_VISIBLE_DEVICES=0 run lora1-compile-static timeout 240 "${bench[@]}" --tuning lora --micro-batch 8 --compile \
    --no-alternate --json "$out/lora1static.json"
elif [ "$phase" = mfu ]; then  # larger micro-batches without recomputation, compiled decoder layers
  two=(torchrun --standalone --nproc_per_node 2 "${bench[@]:1}" --tuning full --no-offload)
  run full2-mb8 timeout 120 "${two[@]}" --micro-batch 8 --no-alternate --json "$out/full2mb8.json"
  CUDA_VISIBLE_DEVICES=0 run lora1-compile timeout 170 "${bench[@]}" --tuning lora --micro-batch 8 --compile \
    --no-alternate --json "$out/lora1compile.json"
  run full2-mb8-compile timeout 170 "${two[@]}" --micro-batch 8 --compile --generative-only --json "$out/full2mb8compile.json"
  CUDA_VISIBLE_DEVICES=0 run lora1-mb12 timeout 100 "${bench[@]}" --tuning lora --micro-batch 12 --generative-only \
    --json "$out/lora1mb12.json"
  CUDA_VISIBLE_DEVICES=0 run full1-compile timeout 170 "${bench[@]}" --tuning full --micro-batch 4 --no-offload \
    --gradient-checkpointing --zero-stage 0 --compile --generative-only --json "$out/full1compile.json"
elif [ "$phase" = mfu2 ]; then  # the compiled runs' OPAL modes; two GPUs against one at the same micro-batch
  two=(torchrun --standalone --nproc_per_node 2 "${bench[@]:1}" --tuning full --no-offload)
  run full2-mb8-compile timeout 200 "${two[@]}" --micro-batch 8 --compile --json "$out/full2mb8compile.json"
  run full2-mb4-compile timeout 150 "${two[@]}" --micro-batch 4 --gradient-checkpointing --compile --generative-only \
    --json "$out/full2mb4compile.json"
  CUDA_VISIBLE_DEVICES=0 run full1-nockpt-compile timeout 150 "${bench[@]}" --tuning full --micro-batch 4 --no-offload \
    --zero-stage 0 --compile --generative-only --json "$out/full1nockptcompile.json"
elif [ "$phase" = full1 ]; then  # full fine-tuning on ONE GPU: larger micro-batches, compiled, no recomputation
  export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True  # the card is nearly full: no fragmentation
  one=(timeout 200 "${bench[@]}" --tuning full --no-offload --zero-stage 0 --compile)
  CUDA_VISIBLE_DEVICES=0 run full1-mb8 "${one[@]}" --micro-batch 8 --no-alternate --json "$out/full1mb8.json"
  CUDA_VISIBLE_DEVICES=0 run full1-mb6 "${one[@]}" --micro-batch 6 --generative-only --json "$out/full1mb6.json"
elif [ "$phase" = all ]; then  # the most needed first, to fit one call
  CUDA_VISIBLE_DEVICES=0 run lora1 "${bench[@]}" --tuning lora --micro-batch 8 --two-pass --json "$out/lora1.json"
  CUDA_VISIBLE_DEVICES=0 run full1 "${bench[@]}" --tuning full --micro-batch 4 --no-offload --gradient-checkpointing \
    --zero-stage 0 --json "$out/full1.json"
  run full2 torchrun --standalone --nproc_per_node 2 "${bench[@]:1}" --tuning full --micro-batch 4 --no-offload \
    --gradient-checkpointing --json "$out/full2.json"
  run gputest python -m pytest -q -m gpu tests/test_opal_gpu2.py
  CUDA_VISIBLE_DEVICES=0 run lora1p4 "${bench[@]}" --tuning lora --micro-batch 8 --pairs 4 --json "$out/lora1p4.json"
elif [ "$phase" = again ]; then  # after the mask-free packed attention: LoRA and full on one GPU, the links
  nvidia-smi topo -m
  run nccl torchrun --standalone --nproc_per_node 2 benchmarks/nccl_bandwidth.py
  CUDA_VISIBLE_DEVICES=0 run lora1 "${bench[@]}" --tuning lora --micro-batch 8 --two-pass --json "$out/lora1.json"
  CUDA_VISIBLE_DEVICES=0 run lora1p4 "${bench[@]}" --tuning lora --micro-batch 8 --pairs 4 --json "$out/lora1p4.json"
  CUDA_VISIBLE_DEVICES=0 run full1 "${bench[@]}" --tuning full --micro-batch 4 --no-offload --gradient-checkpointing \
    --zero-stage 0 --json "$out/full1.json"
elif [ "$phase" = zero2 ]; then  # where ZeRO-2's time on two GPUs goes: its communication settings varied
  for opts in "--overlap-comm" "--no-overlap-comm" "--bucket-size 50000000"; do
    run "full2 $opts" torchrun --standalone --nproc_per_node 2 "${bench[@]:1}" --tuning full --micro-batch 4 --no-offload \
      --gradient-checkpointing --generative-only --steps 3 --warmup 1 $opts
  done
elif [ "$phase" = one ]; then
  CUDA_VISIBLE_DEVICES=0 run lora1 "${bench[@]}" --tuning lora --micro-batch 8 --pairs 1 --two-pass --json "$out/lora1.json"
  CUDA_VISIBLE_DEVICES=0 run full1 "${bench[@]}" --tuning full --micro-batch 4 --no-offload --gradient-checkpointing \
    --zero-stage 0 --json "$out/full1.json"
  CUDA_VISIBLE_DEVICES=0 run lora1-pairs4 "${bench[@]}" --tuning lora --micro-batch 8 --pairs 4 --json "$out/lora1p4.json"
elif [ "$phase" = two ]; then
  run full2 torchrun --standalone --nproc_per_node 2 "${bench[@]:1}" --tuning full --micro-batch 4 --no-offload \
    --gradient-checkpointing --json "$out/full2.json"
  run lora2 torchrun --standalone --nproc_per_node 2 "${bench[@]:1}" --tuning lora --micro-batch 8 --json "$out/lora2.json"
  run gputest python -m pytest -q -m gpu tests/test_opal_gpu2.py
fi
