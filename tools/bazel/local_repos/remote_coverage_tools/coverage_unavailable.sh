#!/bin/sh
# Bazel's coverage tools are downloaded from the internet, which this workspace never does.
echo "bazel coverage is not available in this offline workspace; use gcov/lcov on a plain build instead" >&2
exit 1
