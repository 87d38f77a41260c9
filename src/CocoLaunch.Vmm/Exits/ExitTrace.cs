using System.Globalization;
using CocoLaunch.Kvm;

namespace CocoLaunch.Vmm.Exits;

/// <summary>The one-line form of an exit for <c>--trace-exits</c>: the vCPU, KVM's exit name and its fields.</summary>
public static class ExitTrace
{
    public static string Line(uint vcpu, KvmExit exit) => $"vcpu{vcpu} {Describe(exit)}";

    /// <summary>KVM's exit name and its fields.</summary>
    public static string Describe(KvmExit exit) => string.Create(CultureInfo.InvariantCulture, $"{exit switch
    {
        KvmExit.Io io => $"io {(io.IsOut ? "out" : "in")} port=0x{io.Port:x} size={io.Size}{(io.IsOut ? $" data={Convert.ToHexStringLower(io.Data)}" : string.Empty)}",
        KvmExit.Hypercall h => $"hypercall nr={h.Nr} gpa=0x{h.Args[0]:x} pages={h.Args[1]} to={((h.Args[2] & ExitHandlers.MapGpaRangeEncrypted) != 0 ? "private" : "shared")}",
        KvmExit.MemoryFault m => $"memory_fault gpa={m.Info.Gpa} size=0x{m.Info.Size:x} {(m.Info.IsPrivate ? "private" : "shared")} ({m.Errno})",
        KvmExit.Mmio m => $"mmio {(m.IsWrite ? "write" : "read")} gpa={m.Address} len={m.Length}",
        KvmExit.SystemEvent e => $"system_event type={e.Type}",
        KvmExit.TdxGetQuote q => $"tdx get_quote gpa=0x{q.Gpa:x} size=0x{q.Size:x}",
        KvmExit.FailEntry f => $"fail_entry reason=0x{f.HardwareEntryFailureReason:x}",
        _ => exit.Reason.ToString().ToLowerInvariant(),
    }}");
}
