# The trainer image for Azure Container Apps jobs on serverless GPUs: CUDA 12 runtime with cuDNN 9 (what
# onnxruntime-node 1.30's CUDA execution provider is built against), the Vulkan loader for its WebGPU provider
# (Dawn over Vulkan: the second GPU path, which needs no CUDA libraries), Node.js 22, and the app built from source.
# Build from the repository root:  docker build -f infra/trainer.Dockerfile -t <registry>/icf-trainer:<tag> .
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

ENV NODE_MAJOR=22 DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
 && curl -fsSL https://deb.nodesource.com/setup_${NODE_MAJOR}.x | bash - \
 && apt-get install -y --no-install-recommends nodejs libvulkan1 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Not the project's .npmrc: it tells onnxruntime-node to skip its CUDA provider, which this image wants.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts \
 && ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node sharp --foreground-scripts
COPY tsconfig.json tsconfig.build.json host.json ./
COPY functions ./functions
COPY src ./src
COPY bench ./bench
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

# The backbone (converted on first use) and feature caches; mount a volume here to keep them between runs.
# 'graphics' makes the NVIDIA container runtime mount the driver's Vulkan ICD, which WebGPU needs.
ENV ICF_CACHE_DIR=/cache TRAIN_EXECUTION_PROVIDERS=cuda,webgpu,cpu NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics
VOLUME /cache
# TRAIN_DATASET and TRAIN_JOB_ID come from the launcher; AzureWebJobsStorage from the job's secret.
CMD ["node", "dist/src/train/main.js"]
