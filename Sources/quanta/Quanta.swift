import ArgumentParser

@main
struct Quanta: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quanta",
        abstract: "Offline LLM conversion, quantization and evaluation.",
        subcommands: [
            ConvertCommand.self, InspectCommand.self, TokenizeCommand.self, QuantizeCommand.self, EvalCommand.self,
            GenerateCommand.self, ValidateCommand.self, ReportCommand.self, ExportCommand.self,
        ]
    )
}
