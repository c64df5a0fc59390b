#!/usr/bin/env bash
# Check every endpoint of a running persian-chat server with curl.
#   scripts/validate_api.sh [BASE_URL]      (default http://127.0.0.1:8000)
#   API_KEY=...  when the server requires keys (also checks that a wrong key gets 401)
#   CURL_OPTS="--cacert cert.pem" for HTTPS with a private CA
#   CHECK_METRICS=0 behind a proxy that keeps /metrics private (deploy/nginx does)
# Exits non-zero if any check fails.
set -u
BASE="${1:-http://127.0.0.1:8000}"
BASE="${BASE%/}"
KEY="${API_KEY:-}"
read -r -a EXTRA <<<"${CURL_OPTS:-}"
failures=0
body="$(mktemp)"
trap 'rm -f "$body"' EXIT

auth=()
if [[ -n "$KEY" ]]; then auth=(-H "Authorization: Bearer $KEY"); fi

# request NAME EXPECTED_STATUS EXPECTED_TEXT curl-args...
request() {
  local name="$1" want="$2" text="$3"
  shift 3
  local status
  status="$(curl -sS -o "$body" -w '%{http_code}' --max-time 120 "${EXTRA[@]}" "$@" 2>/dev/null)"
  if [[ "$status" == "$want" ]] && grep -qF -- "$text" "$body"; then
    echo "ok    $name ($status)"
  else
    echo "FAIL  $name: status $status (want $want), body: $(head -c 300 "$body")"
    failures=$((failures + 1))
  fi
}

json=(-H "Content-Type: application/json")
hello='{"role":"user","content":"سلام، حالت چطور است؟"}'

request "health" 200 '"status":"ok"' "$BASE/health"
if [[ "${CHECK_METRICS:-1}" != 0 ]]; then
  request "metrics" 200 "persian_chat_requests_total" "$BASE/metrics"
fi
request "models" 200 '"loaded":true' "${auth[@]}" "$BASE/v1/models"
request "unknown model" 404 '"code":"model_not_found"' "${auth[@]}" "${json[@]}" \
  -d "{\"messages\":[$hello],\"max_tokens\":8,\"model\":\"no-such-model\"}" \
  "$BASE/v1/chat/completions"
request "chat stream" 200 '"done":true' -N "${auth[@]}" "${json[@]}" \
  -d "{\"messages\":[$hello],\"max_tokens\":8}" "$BASE/api/chat"
request "chat stream tokens" 200 'data: {"token"' -N "${auth[@]}" "${json[@]}" \
  -d "{\"messages\":[$hello],\"max_tokens\":8,\"temperature\":0}" "$BASE/api/chat"
request "chat non-stream" 200 '"role":"assistant"' "${auth[@]}" "${json[@]}" \
  -d "{\"messages\":[$hello],\"max_tokens\":8,\"stream\":false}" "$BASE/api/chat"
request "openai non-stream" 200 '"object":"chat.completion"' "${auth[@]}" "${json[@]}" \
  -d "{\"messages\":[$hello],\"max_tokens\":8}" "$BASE/v1/chat/completions"
request "openai stream" 200 'data: [DONE]' -N "${auth[@]}" "${json[@]}" \
  -d "{\"messages\":[$hello],\"max_tokens\":8,\"stream\":true}" "$BASE/v1/chat/completions"
schema='{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"],"additionalProperties":false}'
request "json schema" 200 '"content":"{\"ok\": ' "${auth[@]}" "${json[@]}" \
  -d "{\"messages\":[$hello],\"max_tokens\":16,\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":$schema}}}" \
  "$BASE/v1/chat/completions"
request "unsupported schema" 400 '"param":"response_format"' "${auth[@]}" "${json[@]}" \
  -d "{\"messages\":[$hello],\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"schema\":{\"not\":{}}}}}" \
  "$BASE/v1/chat/completions"
tool='{"type":"function","function":{"name":"lookup","parameters":{"type":"object","properties":{"q":{"type":"string","maxLength":8}},"required":["q"]}}}'
request "tool call" 200 '"finish_reason":"tool_calls"' "${auth[@]}" "${json[@]}" \
  -d "{\"messages\":[$hello],\"max_tokens\":40,\"tools\":[$tool],\"tool_choice\":\"required\"}" \
  "$BASE/v1/chat/completions"
request "tokenize" 200 '"max_model_len"' "${auth[@]}" "${json[@]}" \
  -d "{\"messages\":[$hello]}" "$BASE/tokenize"
request "detokenize" 200 '"prompt"' "${auth[@]}" "${json[@]}" \
  -d '{"tokens":[1,2]}' "$BASE/detokenize"
request "bad temperature" 400 '"param":"temperature"' "${auth[@]}" "${json[@]}" \
  -d "{\"messages\":[$hello],\"temperature\":5}" "$BASE/api/chat"
request "bad role" 400 '"param":"messages.0.role"' "${auth[@]}" "${json[@]}" \
  -d '{"messages":[{"role":"robot","content":"x"}]}' "$BASE/api/chat"
request "invalid json" 400 '"code":"invalid_json"' "${auth[@]}" "${json[@]}" \
  -d '{"messages":' "$BASE/api/chat"
request "not json" 415 '"code":"unsupported_media_type"' "${auth[@]}" -H "Content-Type: text/plain" \
  -d "{\"messages\":[$hello]}" "$BASE/api/chat"
request "openapi" 200 '"openapi":"3.1.0"' "$BASE/openapi.json"
request "unknown route" 404 '"code":"not_found"' "$BASE/v1/no-such-route"
if [[ -n "$KEY" ]]; then
  request "no key" 401 '"type":"authentication_error"' "${json[@]}" \
    -d "{\"messages\":[$hello]}" "$BASE/api/chat"
  request "wrong key" 401 '"type":"authentication_error"' -H "Authorization: Bearer wrong-key-0000000000" \
    "${json[@]}" -d "{\"messages\":[$hello]}" "$BASE/v1/chat/completions"
fi

if ((failures)); then
  echo "$failures check(s) failed against $BASE"
  exit 1
fi
echo "all checks passed against $BASE"
