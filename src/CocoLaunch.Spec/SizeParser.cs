using System.Globalization;

namespace CocoLaunch.Spec;

/// <summary>Parses byte counts such as "2G", "512MiB", "4096" or "0x80000000" (units are binary).</summary>
public static class SizeParser
{
    private static readonly (string Suffix, int Shift)[] Units =
    [
        ("PiB", 50), ("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10),
        ("P", 50), ("T", 40), ("G", 30), ("M", 20), ("K", 10), ("B", 0),
    ];

    public static bool TryParse(string text, out ulong bytes, out string? problem)
    {
        bytes = 0;
        problem = null;
        if (YamlSpecReader.TryParseUInt64(text, out bytes))
        {
            return true;
        }

        foreach (var (suffix, shift) in Units)
        {
            if (!text.EndsWith(suffix, StringComparison.Ordinal))
            {
                continue;
            }

            string number = text[..^suffix.Length].TrimEnd();
            if (number.StartsWith("0x", StringComparison.OrdinalIgnoreCase) || !YamlSpecReader.TryParseUInt64(number, out ulong count))
            {
                return false;
            }

            if (count > ulong.MaxValue >> shift)
            {
                problem = $"'{text}' is too large to count in 64 bits";
                return false;
            }

            bytes = count << shift;
            return true;
        }

        return false;
    }

    /// <summary>The shortest exact rendering: "2 GiB" for 2^31, else hex bytes.</summary>
    public static string Format(ulong bytes)
    {
        foreach (var (suffix, shift) in Units.Where(u => u.Suffix.EndsWith("iB", StringComparison.Ordinal)))
        {
            if (bytes != 0 && bytes % (1UL << shift) == 0)
            {
                return $"{bytes >> shift} {suffix}";
            }
        }

        return $"0x{bytes:x} bytes";
    }
}
