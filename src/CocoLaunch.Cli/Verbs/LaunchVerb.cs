using CocoLaunch.Spec;
using CocoLaunch.Vmm.Launch;
using CommandLine;

namespace CocoLaunch.Cli.Verbs;

[Verb("launch", HelpText = "Run a spec's launch recipe on the KVM model: VM, vCPUs, memslots, attributes, pre-fault.")]
public sealed class LaunchOptions : CommonOptions
{
    [Value(0, MetaName = "SPEC", Required = true, HelpText = "The launch spec (YAML).")]
    public string Spec { get; set; } = string.Empty;

    [Option("stop-after", HelpText = "Stop after this step (create-vm, create-vcpus, memslots, attributes, prefault).")]
    public string? StopAfter { get; set; }

    [Option("dump-stage2", HelpText = "Print the stage-2 statistics (pages_4k, pages_2m, pages_1g) and every mapped range.")]
    public bool DumpStage2 { get; set; }
}

internal static class LaunchVerb
{
    public static int Run(LaunchOptions o, TextWriter stdout)
    {
        var spec = LaunchSpecParser.Load(o.Spec);
        var (image, ovmf) = ValidateVerb.LoadFirmware(spec);
        LaunchContext context;
        try
        {
            context = LaunchRecipe.Run(new LaunchContext(spec, image, ovmf), o.StopAfter);
        }
        catch (LaunchException e)
        {
            throw new CliInputException($"{o.Spec}: {e.Message}");
        }

        var vm = context.Vm;
        foreach (var slot in context.Layout)
        {
            stdout.WriteLine($"memslot {slot.Slot}: [{slot.Gpa},0x{slot.End:x}) {(slot.Private ? "private" : "shared")}{(slot.Firmware ? " firmware" : string.Empty)}");
        }

        if (o.DumpStage2 && vm is not null)
        {
            stdout.Write(vm.Mmu.DumpText());
        }

        return ExitCode.Ok;
    }
}
