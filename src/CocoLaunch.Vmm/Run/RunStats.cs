using System.Globalization;
using System.Text;
using CocoLaunch.Abi.Kvm;

namespace CocoLaunch.Vmm.Run;

/// <summary>What a guest run did, for <c>launch --stats</c> and the samples' comparison.</summary>
public sealed class RunStats
{
    private readonly Dictionary<string, long> exits = [];

    public long Instructions { get; set; }

    public TimeSpan Elapsed { get; set; }

    /// <summary>Exits by reason, as KVM names them (hypercall, memory_fault, io, …).</summary>
    public IReadOnlyDictionary<string, long> Exits => exits;

    public long ExplicitToShared { get; private set; }

    public long ExplicitToPrivate { get; private set; }

    public long ImplicitToShared { get; private set; }

    public long ImplicitToPrivate { get; private set; }

    /// <summary>Private pages the guest made usable at run time: TDX accepts, SNP validations.</summary>
    public long PagesAccepted { get; set; }

    /// <summary>Conversions that met EAGAIN (a host reference on the page) and were retried after releasing it.</summary>
    public long ConversionRetries { get; set; }

    public string MappingStats { get; set; } = string.Empty;

    /// <summary>The vendor's own page-size story (SNP: 2M RMP entries), when it has one.</summary>
    public string? PlatformStats { get; set; }

    public void CountExit(KvmExitReason reason)
    {
        string name = reason.ToString();
        exits[name] = exits.GetValueOrDefault(name) + 1;
    }

    public void CountConversion(bool explicitly, bool toPrivate, ulong pages)
    {
        long n = (long)pages;
        if (explicitly)
        {
            _ = toPrivate ? ExplicitToPrivate += n : ExplicitToShared += n;
        }
        else
        {
            _ = toPrivate ? ImplicitToPrivate += n : ImplicitToShared += n;
        }
    }

    public override string ToString()
    {
        var s = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        s.AppendLine(c, $"instructions: {Instructions}");
        s.AppendLine(c, $"time: {Elapsed.TotalSeconds:0.000} s ({(Elapsed.TotalSeconds > 0 ? Instructions / Elapsed.TotalSeconds / 1e6 : 0):0.0} MIPS)");
        s.AppendLine(c, $"exits: {string.Join(", ", exits.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key} {e.Value}"))}");
        s.AppendLine(c, $"conversions (4K pages): explicit to-shared {ExplicitToShared}, to-private {ExplicitToPrivate}; implicit to-shared {ImplicitToShared}, to-private {ImplicitToPrivate}; EAGAIN retries {ConversionRetries}");
        s.AppendLine(c, $"pages accepted or validated: {PagesAccepted}");
        if (PlatformStats is not null)
        {
            s.AppendLine(PlatformStats);
        }
        s.Append(MappingStats);
        return s.ToString();
    }
}
