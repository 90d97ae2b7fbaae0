fn main() -> std::process::ExitCode {
    statuspage_bridge::cli::main()
}
