using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm;

namespace CocoLaunch.Vmm.Exits;

/// <summary>The VMM's one exit loop: KVM_RUN, dispatch the exit to its handler, repeat.</summary>
public sealed class ExitLoop(VmFd vm, ConversionMode conversion)
{
    /// <summary>Guards against a guest that never stops exiting.</summary>
    public int MaxExits { get; init; } = 1_000_000;

    /// <summary>Bytes an MMIO read returns when no device answers (open bus).</summary>
    public byte OpenBus { get; init; } = 0xFF;

    public int ExitCount { get; private set; }

    public ExitOutcome Run(VcpuFd vcpu)
    {
        Gpa? lastFault = null;
        while (ExitCount < MaxExits)
        {
            var exit = vcpu.Run();
            ExitCount++;
            var outcome = exit switch
            {
                KvmExit.Hypercall h => ExitHandlers.MapGpaRange(vm, h, conversion),
                KvmExit.MemoryFault { Info.Flags: var f } m when f.HasFlag(KvmMemoryExitFlags.AbsentMapping) => ExitHandlers.AbsentMapping(vm, m),
                KvmExit.MemoryFault m => ExitHandlers.MemoryFault(vm, m, conversion, ref lastFault),
                KvmExit.Mmio m => Mmio(m),
                KvmExit.Hlt => new ExitOutcome.Stop("guest halted"),
                KvmExit.Shutdown => new ExitOutcome.Stop("guest shut down"),
                KvmExit.InternalError e => new ExitOutcome.Fail($"KVM internal error {e.Suberror}: {e.Detail}"),
                _ => new ExitOutcome.Fail($"unhandled exit {exit.Reason}"),
            };

            if (exit is not KvmExit.MemoryFault)
            {
                lastFault = null;
            }

            if (outcome is not ExitOutcome.Resume)
            {
                return outcome;
            }
        }

        return new ExitOutcome.Fail($"the guest exited {MaxExits} times without stopping");
    }

    private ExitOutcome Mmio(KvmExit.Mmio exit)
    {
        if (!exit.IsWrite)
        {
            Array.Fill(exit.Data, OpenBus);
        }

        return ExitOutcome.Continue;
    }
}
