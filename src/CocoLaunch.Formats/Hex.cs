using System.Globalization;

namespace CocoLaunch.Formats;

internal static class Hex
{
    public static string Of(ulong value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);

    public static string Of(long value) => value < 0 ? "-" + Of((ulong)(-value)) : Of((ulong)value);

    public static string Range(ulong start, ulong end) => $"[{Of(start)},{Of(end)})";
}
