using CocoLaunch.Cpu;
using CocoLaunch.Tests.Shared;

namespace CocoLaunch.Vmm.Tests.ApiSequences;

/// <summary>
/// A <see cref="ScriptedGuest"/> that stops (as a shutdown) instead of throwing when the platform hands it an
/// exception it cannot take — a TD's #VE for MMIO, an SNP #VC for an unvalidated page, #UD for VMCALL in a TD.
/// Those are guest events, not KVM failures; everything else still comes from the script unchanged.
/// </summary>
internal sealed class TolerantGuest(ScriptedGuest inner) : IGuestCpu
{
    /// <summary>Why the guest stopped on its own, if it did.</summary>
    public string? Trapped { get; private set; }

    public ScriptedGuest Script => inner;

    public CpuState State => inner.State;

    public long InstructionsRetired => inner.InstructionsRetired;

    public (ulong Rip, int Length) LastExitInstruction => inner.LastExitInstruction;

    public CpuExit Run(long maxInstructions)
    {
        if (Trapped is { } why)
        {
            return new CpuExit.Shutdown(why);
        }

        try
        {
            return inner.Run(maxInstructions);
        }
        catch (InvalidOperationException e) when (IsScriptLimit(e))
        {
            Trapped = e.Message;
            return new CpuExit.Shutdown(e.Message);
        }
    }

    public void CompletePortIn(uint value) => Trapped ??= "port I/O";

    public void CompleteMmioRead(ulong value) => inner.CompleteMmioRead(value);

    public void InjectException(int vector, uint? errorCode, CpuExit.InstructionExit? atInstruction = null) => Trapped ??= $"vector {vector} injected";

    public void InjectFaultAtLastExit(int vector, uint? errorCode) => Trapped ??= $"vector {vector} injected at the last exit";

    public bool TranslateOrFault(ulong linear, CpuExit.InstructionExit atInstruction, out ulong gpa) => inner.TranslateOrFault(linear, atInstruction, out gpa);

    public void FlushTlb() => inner.FlushTlb();

    /// <summary>Only the script's own "I cannot handle a vector" refusal; anything KVM throws stays an error.</summary>
    private static bool IsScriptLimit(InvalidOperationException e) =>
        e.TargetSite?.DeclaringType == typeof(ScriptedGuest) && e.Message.StartsWith("the scripted guest took vector", StringComparison.Ordinal);
}
