using CocoLaunch.Abi;

namespace CocoLaunch.Firmware.Snp;

/// <summary>
/// The automatic exits (#VMEXIT) an SEV-ES/SNP guest makes to the hypervisor: a closed set. Everything else its
/// CPU does either runs in the guest or becomes a #VC the guest handles itself.
/// </summary>
public abstract record SvmExit
{
    private SvmExit()
    {
    }

    /// <summary>VMGEXIT: the hypervisor reads the GHCB MSR (the MSR protocol) or the GHCB page it names.</summary>
    public sealed record Vmgexit(ulong GhcbMsr) : SvmExit;

    /// <summary>HLT, an automatic exit (no #VC).</summary>
    public sealed record Hlt : SvmExit;

    /// <summary>
    /// A nested page fault from the RMP check of PVALIDATE or RMPADJUST: <paramref name="Gpa"/> is not yet the
    /// guest's (the hypervisor maps it privately), or a 4K request met a 2M RMP entry (<paramref name="SizeMismatch"/>:
    /// the hypervisor PSMASHes it). RIP is back on the instruction, which runs again.
    /// </summary>
    public sealed record Npf(Gpa Gpa, bool SizeMismatch) : SvmExit;

    /// <summary>The guest's CPU shut down (a triple fault).</summary>
    public sealed record Shutdown(string Reason) : SvmExit;
}
