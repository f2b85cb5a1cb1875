/work/main/tools/console-bridge/target/x86_64-unknown-linux-gnu/release/deps/hako_console_bridge-7f9779ebacc697d1.d: src/main.rs

/work/main/tools/console-bridge/target/x86_64-unknown-linux-gnu/release/deps/hako_console_bridge-7f9779ebacc697d1: src/main.rs

src/main.rs:
