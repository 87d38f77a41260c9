using CocoLaunch.Abi;

namespace CocoLaunch.Firmware.Tdx;

/// <summary>
/// Why the TDX module left a TD for the VMM: a closed set, as TDH.VP.ENTER reports it. Everything else a TD's
/// CPU does the module answers itself (#VE, TDCALL leaves, virtualised CPUID).
/// </summary>
public abstract record TdExit
{
    private TdExit()
    {
    }

    /// <summary>TDG.VP.VMCALL: the VMM reads and writes the GPRs the TD exposed in RCX (guest-abi.md §3).</summary>
    public sealed record VmCall : TdExit;

    /// <summary>
    /// An EPT violation on private <paramref name="Gpa"/> with no Secure-EPT leaf, from TDG.MEM.PAGE.ACCEPT: RIP is
    /// back on the TDCALL, which runs again once the VMM has mapped the page (PAGE.AUG).
    /// </summary>
    public sealed record EptViolation(Gpa Gpa) : TdExit;

    /// <summary>The TD's CPU shut down (a triple fault).</summary>
    public sealed record TripleFault(string Reason) : TdExit;
}
