using CocoLaunch.Abi;

namespace CocoLaunch.Vmm.Launch;

/// <summary>How the launch measured a range it loaded: the page types both platforms share.</summary>
public enum LoadedPageKind
{
    /// <summary>SNP NORMAL, or TDX PAGE.ADD then MR.EXTEND: the contents enter the digest.</summary>
    Measured,

    /// <summary>SNP ZERO: the firmware zeroes the page and measures the type, not contents.</summary>
    Zero,

    /// <summary>SNP UNMEASURED, or TDX PAGE.ADD alone: the GPA may enter the digest, the contents never.</summary>
    Unmeasured,

    /// <summary>SNP SECRETS: the firmware fills the page.</summary>
    Secrets,

    /// <summary>SNP CPUID: the VMM's table, checked by the firmware, not measured.</summary>
    Cpuid,
}

/// <summary>One range the launch loaded into private memory, with the bytes its ioctl read (empty when it read none).</summary>
public sealed record LoadedRange(Gpa Gpa, ulong Size, LoadedPageKind Kind, ReadOnlyMemory<byte> Data);

/// <summary>
/// The ranges a launch loaded, in the order it measured them, kept when a caller asks (igvm build packages them),
/// so that anything packaging the launch takes its pages from the launch itself instead of restating its order.
/// </summary>
public sealed class LoadedPages
{
    private readonly List<LoadedRange> ranges = [];

    public IReadOnlyList<LoadedRange> Ranges => ranges;

    /// <summary>Why the pages alone do not give the launch's measurement (a precomputed digest, a two-pass MRTD), or null.</summary>
    public string? NotReproducible { get; private set; }

    /// <summary>Records a range whose source the launch mapped at <paramref name="source"/> (default: no source).</summary>
    internal void Add(LaunchContext c, Gpa gpa, ulong size, LoadedPageKind kind, Memory.Hva source)
    {
        var data = Array.Empty<byte>();
        if (source != default)
        {
            data = new byte[size];
            c.Kvm.Host.Read(source, data);
        }

        ranges.Add(new LoadedRange(gpa, size, kind, data));
    }

    internal void NotFromPages(string why) => NotReproducible ??= why;
}
