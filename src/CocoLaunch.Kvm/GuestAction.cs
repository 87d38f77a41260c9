using CocoLaunch.Abi;

namespace CocoLaunch.Kvm;

/// <summary>
/// What the guest does next, as far as the platform can see it. The x86 CPU (or a test script) produces
/// these; the vCPU turns them into memory accesses, completions or exits exactly as KVM would.
/// </summary>
public abstract record GuestAction
{
    /// <summary>A data read. <paramref name="Private"/> is the access's encryption (TDX shared bit clear, SNP C-bit); null = the GFN's attribute (SW_PROTECTED).</summary>
    public sealed record Read(Gpa Address, int Length, bool? Private = null) : GuestAction;

    public sealed record Write(Gpa Address, byte[] Data, bool? Private = null) : GuestAction;

    /// <summary>VMCALL/VMMCALL with RAX = <paramref name="Nr"/>, RBX/RCX/RDX/RSI = a0..a3.</summary>
    public sealed record Hypercall(ulong Nr, ulong A0, ulong A1, ulong A2, ulong A3 = 0, int Cpl = 0, bool LongMode = true) : GuestAction;

    public sealed record Halt : GuestAction;
}

/// <summary>What the last action gave the guest: bytes read, or RAX after a hypercall.</summary>
public sealed record GuestResult(byte[]? Data = null, ulong? Rax = null);

/// <summary>A guest as KVM_RUN drives it: asked for its next action, told the result of the last one.</summary>
public interface IGuest
{
    /// <summary>The next action, given the result of the previous one; null when the guest program has ended.</summary>
    GuestAction? Next(GuestResult? previous);
}

/// <summary>KVM's guest-visible hypercall error values (negated in RAX).</summary>
public static class KvmHypercallError
{
    public const ulong EPerm = unchecked((ulong)-1L);
    public const ulong EInval = unchecked((ulong)-22L);
    public const ulong ENoSys = unchecked((ulong)-1000L);
}
