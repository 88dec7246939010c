# The trainer image for Azure Container Apps jobs on serverless GPUs: CUDA 12 runtime with cuDNN 9 (what
# onnxruntime-node 1.30's CUDA execution provider is built against), the Vulkan loader for its WebGPU provider
# (Dawn over Vulkan: the second GPU path, which needs no CUDA libraries), Node.js 22, and the app built from source.
# Build from the repository root:  docker build -f infra/trainer.Dockerfile -t <registry>/icf-trainer:<tag> .
# The postdeploy hook builds it with BASE_IMAGE from the project's own registry (imported from NVIDIA's once), so
# builds pull nothing from Docker Hub; the default is NVIDIA's registry, the same image (main.bicep's
# trainerBaseImage names it too).
ARG BASE_IMAGE=nvcr.io/nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
FROM ${BASE_IMAGE}

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

# The backbone (converted on first use) and feature caches, on the replica's own disk: a Container Apps execution
# cannot mount volumes of its own (infra/app/trainer.bicep), so they last one run; the backbone's ONNX file is also
# cached in blob storage (backbones/).
# 'graphics' makes the NVIDIA container runtime mount the driver's Vulkan ICD, which WebGPU needs.
ENV ICF_CACHE_DIR=/cache TRAIN_EXECUTION_PROVIDERS=cuda,webgpu,cpu NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics
# TRAIN_DATASET and TRAIN_JOB_ID come from the launcher; the storage connection from the job's environment.
CMD ["node", "dist/src/train/main.js"]
