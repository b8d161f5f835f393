#!/bin/sh
# TaskProlog of the test box (slurm.conf): SLURM runs it before each task of each job and copies
# lines that start with "print " into the job's output, so every SLURM log under
# .snakemake/slurm_logs/ records which GPUs SLURM gave the task.
echo "print neovert-slurm-box: job ${SLURM_JOB_ID:-?} step ${SLURM_STEP_ID:-batch} CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-unset}"
