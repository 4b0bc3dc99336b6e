# Sourced by .ci/run: Debian's chromium and chromium-driver for the workbench's browser tests
# (tests/api/workbench), installed when missing. No browser is downloaded any other way.
if ! { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; }; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
echo "$(/usr/bin/chromium --version 2>/dev/null) with $(/usr/bin/chromedriver --version | cut -d' ' -f1-2) for the browser tests"
