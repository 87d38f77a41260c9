using System.Globalization;

namespace CocoLaunch.Memory;

/// <summary>A host virtual address in the VMM's (emulated) address space: the <c>userspace_addr</c> of a memslot.</summary>
public readonly record struct Hva(ulong Value)
{
    public Hva CheckedAdd(ulong bytes) => new(checked(Value + bytes));

    public override string ToString() => "0x" + Value.ToString("x", CultureInfo.InvariantCulture);
}

/// <summary>A memory access the host kernel would answer with a signal (SIGBUS, SIGSEGV) instead of an errno.</summary>
public sealed class HostFaultException(string signal, Hva address, string why) : Exception($"{signal} at {address}: {why}")
{
    public string Signal { get; } = signal;

    public Hva Address { get; } = address;
}
