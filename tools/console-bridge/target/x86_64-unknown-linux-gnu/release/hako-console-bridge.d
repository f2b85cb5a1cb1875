/work/main/tools/console-bridge/target/x86_64-unknown-linux-gnu/release/hako-console-bridge: /work/main/tools/console-bridge/src/main.rs
