# Shared by the POSIX azd hooks (sourced, not run): retries with backoff, and the trainer image's content tag.
# azd and the Azure CLI sign in separately and may have different default subscriptions, so every `az` call that
# takes one names azd's: --subscription "$AZURE_SUBSCRIPTION_ID".

# retry ATTEMPTS WHAT COMMAND...: runs COMMAND until it succeeds, at most ATTEMPTS times, waiting
# HOOK_RETRY_DELAY_S (default 10) seconds after the first failure and twice as long after each next one, up to 120 s.
# For what fails on a first run only because Azure has not caught up yet: role assignments that have not propagated,
# a function app whose host has not started, a system key the host has not written.
retry() {
  attempts=$1
  what=$2
  shift 2
  delay=${HOOK_RETRY_DELAY_S:-10}
  attempt=1
  while :; do
    if "$@"; then return 0; fi
    if [ "$attempt" -ge "$attempts" ]; then
      echo "$what failed $attempts times; giving up." >&2
      return 1
    fi
    echo "$what failed (try $attempt of $attempts); trying again in ${delay}s..." >&2
    sleep "$delay"
    attempt=$((attempt + 1))
    delay=$((delay * 2))
    [ "$delay" -gt 120 ] && delay=120
  done
}

sha256_of_stdin() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum | cut -c1-64; else shasum -a 256 | cut -c1-64; fi
}

# The files the trainer image is built from (infra/trainer.Dockerfile copies these), in a fixed order.
trainer_image_inputs() {
  find infra/trainer.Dockerfile package.json package-lock.json tsconfig.json tsconfig.build.json host.json \
    functions src bench -type f | LC_ALL=C sort
}

# A tag that changes exactly when the image's inputs do: their names and contents, hashed.
trainer_image_tag() {
  trainer_image_inputs | while IFS= read -r file; do
    printf '%s %s\n' "$(sha256_of_stdin <"$file")" "$file"
  done | sha256_of_stdin | cut -c1-16
}
