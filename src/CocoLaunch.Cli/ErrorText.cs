using System.Globalization;
using System.Text;

namespace CocoLaunch.Cli;

/// <summary>
/// The one filter every error line passes before it reaches stderr. Messages echo user values (a key, a path, an
/// option's argument), and a value may hold a newline that forges a second line, an ANSI escape that rewrites the
/// terminal, or megabytes that bury the message: control characters are escaped as C would write them, and each
/// over-long run of non-blank characters is cut, saying how long it was.
/// </summary>
public static class ErrorText
{
    /// <summary>The longest run of non-blank characters kept whole (a path, a digest, a quoted value).</summary>
    public const int MaxWord = 200;

    /// <summary>The longest line printed: room for a location, a long model list and a value.</summary>
    public const int MaxLine = 2000;

    public static string Sanitize(string message)
    {
        var escaped = new StringBuilder(Math.Min(message.Length, MaxLine) + 16);
        foreach (var rune in message.EnumerateRunes())
        {
            escaped.Append(Escape(rune));
        }

        string text = CutWords(escaped.ToString());
        return text.Length <= MaxLine ? text : string.Create(CultureInfo.InvariantCulture, $"{text[..MaxLine]}… (message cut: {text.Length} characters)");
    }

    private static string Escape(Rune r) => r.Value switch
    {
        '\n' => "\\n",
        '\r' => "\\r",
        '\t' => "\\t",
        < 0x20 or 0x7F => $"\\x{r.Value:x2}",
        >= 0x80 and < 0xA0 => $"\\u{r.Value:x4}", // C1 controls: 0x9B is a one-byte CSI on some terminals
        0x2028 or 0x2029 or 0x200E or 0x200F or (>= 0x202A and <= 0x202E) or (>= 0x2066 and <= 0x2069) => $"\\u{r.Value:x4}", // line separators, bidi overrides
        _ => r.ToString(),
    };

    private static string CutWords(string text)
    {
        var result = new StringBuilder(Math.Min(text.Length, MaxLine + 64));
        int start = 0;
        while (start < text.Length)
        {
            int blank = text.IndexOf(' ', start);
            int end = blank < 0 ? text.Length : blank;
            int length = end - start;
            if (length > MaxWord)
            {
                result.Append(text, start, MaxWord).Append(CultureInfo.InvariantCulture, $"… ({length} characters)");
            }
            else
            {
                result.Append(text, start, length);
            }

            if (blank < 0)
            {
                break;
            }

            result.Append(' ');
            start = blank + 1;
            if (result.Length > MaxLine + 64)
            {
                result.Append(text.AsSpan(start, Math.Min(text.Length - start, MaxLine)));
                break;
            }
        }

        return result.ToString();
    }
}
