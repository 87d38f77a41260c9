using System.Globalization;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Kvm;

namespace CocoLaunch.Vmm.Exits;

/// <summary>
/// Which exits <c>--trace-exits</c> prints, from a comma-separated list of KVM's exit names as the trace shows them
/// (<c>io</c>, <c>mmio</c>, <c>hypercall</c>, <c>memory_fault</c>, …), where <c>io:PORT</c> and <c>mmio:GPA</c> keep one
/// port or one address's page: a long boot makes millions of exits, most of them one timer port.
/// </summary>
public static class ExitTraceFilter
{
    private static readonly Dictionary<string, KvmExitReason> Names = new(StringComparer.Ordinal)
    {
        ["io"] = KvmExitReason.Io, ["hypercall"] = KvmExitReason.Hypercall, ["hlt"] = KvmExitReason.Hlt, ["mmio"] = KvmExitReason.Mmio,
        ["intr"] = KvmExitReason.Intr, ["shutdown"] = KvmExitReason.Shutdown, ["fail_entry"] = KvmExitReason.FailEntry,
        ["internal_error"] = KvmExitReason.InternalError, ["system_event"] = KvmExitReason.SystemEvent,
        ["ioapic_eoi"] = KvmExitReason.IoapicEoi, ["memory_fault"] = KvmExitReason.MemoryFault, ["tdx"] = KvmExitReason.Tdx,
    };

    /// <summary>The names the filter accepts, for messages.</summary>
    public static string Known => string.Join(", ", Names.Keys);

    /// <exception cref="FormatException">An entry is not an exit name, or its port or address is not a number.</exception>
    public static Func<KvmExit, bool> Parse(string list)
    {
        var tests = new List<Func<KvmExit, bool>>();
        foreach (string entry in list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            string[] parts = entry.Split(':', 2);
            if (!Names.TryGetValue(parts[0], out var reason))
            {
                throw new FormatException($"'{entry}' is not an exit name ({Known}, or io:PORT, mmio:GPA)");
            }

            if (parts.Length == 1)
            {
                tests.Add(e => e.Reason == reason);
                continue;
            }

            ulong at = Number(parts[1], entry);
            tests.Add(reason switch
            {
                KvmExitReason.Io when at <= ushort.MaxValue => e => e is KvmExit.Io io && io.Port == at,
                KvmExitReason.Mmio => e => e is KvmExit.Mmio m && m.Address.Value >> 12 == at >> 12,
                _ => throw new FormatException($"'{entry}': only io:PORT (up to 0xffff) and mmio:GPA take an address"),
            });
        }

        return tests.Count == 0 ? throw new FormatException("no exit names given") : e => tests.Exists(t => t(e));
    }

    private static ulong Number(string text, string entry) =>
        (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong hex) ? hex : (ulong?)null
            : ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong dec) ? dec : null)
        ?? throw new FormatException($"'{entry}': '{text}' is not a number (decimal or 0x hex)");
}
