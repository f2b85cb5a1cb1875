#!/bin/sh
# Sets everything up (scripts/setup.sh), then runs the whole suite: lint,
# unit and protocol tests, the agent's Rust tests, and the integration
# tests that boot real VMs. The last lines are Node's test summary.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
npm run --silent lint
npm test
