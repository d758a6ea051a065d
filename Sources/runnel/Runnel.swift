import ArgumentParser

/// `runnel`: the Runnel server and its tools (api.md §4).
@main
struct Runnel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runnel",
        abstract: "A replicated, HTTP-native durable stream service.",
        subcommands: [Serve.self, ClusterCommand.self, KeysCommand.self, Bench.self],
        defaultSubcommand: Serve.self)
}
