using System.Globalization;

namespace CocoLaunch.Cpu.Tests;

/// <summary>
/// One row of tests/data/cpu-vectors.tsv (format and reproduction rules: <see cref="CpuVectorGenerator"/>).
/// <see cref="In"/> and <see cref="Out"/> hold 17 values: the 16 GPRs in x86 encoding order (RAX, RCX, RDX, RBX,
/// RSP, RBP, RSI, RDI, R8–R15), then RFLAGS. <see cref="ScratchIn"/>/<see cref="ScratchOut"/> are the first 64
/// bytes of the scratch page (the rest is zero). <see cref="RipOffset"/> is the final RIP − CodeAddress.
/// </summary>
internal sealed record CpuVector(string Name, byte[] Code, ulong[] In, byte[] ScratchIn, ulong[] Out, byte[] ScratchOut, int? Vector, ulong UndefinedMask, ulong RipOffset)
{
    public const int RflagsIndex = 16;
    public const int ScratchBytes = 64;

    public ulong RflagsIn => In[RflagsIndex];

    public ulong RflagsOut => Out[RflagsIndex];

    /// <summary>The row's initial state as a <see cref="RealCpu"/> input.</summary>
    public RealCpuInput ToRealCpuInput()
    {
        var input = new RealCpuInput { Rflags = RflagsIn };
        In.AsSpan(0, RealCpuInput.RegisterCount).CopyTo(input.Gprs);
        ScratchIn.CopyTo(input.Scratch, 0);
        return input;
    }
}

/// <summary>Reads tests/data/cpu-vectors.tsv; <see cref="All"/> parses it once per test run.</summary>
internal static class CpuVectorTable
{
    private static readonly Lazy<IReadOnlyList<CpuVector>> Cached = new(() => Load(CpuVectorGenerator.DefaultPath));

    public static IReadOnlyList<CpuVector> All => Cached.Value;

    public static IReadOnlyList<CpuVector> Load(string path) =>
        File.ReadLines(path).Where(l => l.Length > 0 && !l.StartsWith('#') && l != CpuVectorGenerator.Header).Select(Parse).ToList();

    public static CpuVector Parse(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        string[] f = line.Split('\t');
        if (f.Length != 9)
        {
            throw new FormatException($"{f.Length} columns, expected 9: {line}");
        }

        return new CpuVector(
            f[0],
            Convert.FromHexString(f[1]),
            Values(f[2]),
            Scratch(f[3]),
            Values(f[4]),
            Scratch(f[5]),
            f[6] == "-" ? null : int.Parse(f[6], CultureInfo.InvariantCulture),
            Hex(f[7]),
            Hex(f[8]));
    }

    private static ulong Hex(string text) => ulong.Parse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);

    private static ulong[] Values(string text)
    {
        ulong[] values = text.Split(',').Select(Hex).ToArray();
        return values.Length == 17 ? values : throw new FormatException($"{values.Length} values, expected 17: {text}");
    }

    private static byte[] Scratch(string text)
    {
        var bytes = new byte[CpuVector.ScratchBytes];
        if (text != "-")
        {
            Convert.FromHexString(text).CopyTo(bytes, 0);
        }

        return bytes;
    }
}
