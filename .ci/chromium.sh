# Sourced by .ci/run: Debian's Chromium for the browser test of `promptopt report`
# (tests/promptopt/report/test_browser.py), installed with apt when missing; exported as PROMPTOPT_TEST_CHROMIUM so
# that the test runs (it is skipped where no Chromium is found and this is unset). The test starts it headless on a
# pipe, with a fresh profile, and stops it itself: nothing here keeps running.
if ! command -v chromium >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
export PROMPTOPT_TEST_CHROMIUM="$(command -v chromium)"
echo "Chromium for the tests: $PROMPTOPT_TEST_CHROMIUM ($("$PROMPTOPT_TEST_CHROMIUM" --version 2>/dev/null))" >&2
