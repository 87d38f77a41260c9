using System.Globalization;

namespace CocoLaunch.Cli.Verbs;

/// <summary>Parsing of option values shared by the verbs; each caller keeps its own error message.</summary>
internal static class CliArguments
{
    /// <summary>An integer in any base as sev-snp-measure reads one (0x, 0o, 0b prefixes; '_' separators).</summary>
    public static ulong Number(string text, string option)
    {
        string t = text.Replace("_", string.Empty, StringComparison.Ordinal);
        (string digits, int radix) = t.Length > 2 && t[0] == '0' ? char.ToLowerInvariant(t[1]) switch
        {
            'x' => (t[2..], 16),
            'o' => (t[2..], 8),
            'b' => (t[2..], 2),
            _ => (t, 10),
        } : (t, 10);
        try
        {
            return radix == 10 ? ulong.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture) : Convert.ToUInt64(digits, radix);
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            throw new CliInputException($"{option}: '{text}' is not a number");
        }
    }

    /// <summary>The longest --timeout a verb accepts: one day.</summary>
    public const double MaxSeconds = 86_400;

    /// <summary>A wall-clock limit in seconds (fractions allowed), above 0 and at most a day.</summary>
    public static TimeSpan Seconds(string text, string option) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && seconds > 0 && seconds <= MaxSeconds
            ? TimeSpan.FromSeconds(seconds)
            : throw new CliInputException($"{option}: '{text}' is not a number of seconds in (0, {MaxSeconds}]");

    /// <summary>Exactly <paramref name="bytes"/> bytes as hex digits, with an optional 0x; null otherwise.</summary>
    public static byte[]? HexBytes(string text, int bytes)
    {
        string digits = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
        return digits.Length == 2 * bytes && digits.All(char.IsAsciiHexDigit) ? Convert.FromHexString(digits) : null;
    }
}
