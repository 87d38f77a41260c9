using System.Globalization;
using CocoLaunch.Abi.IO;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace CocoLaunch.Spec;

/// <summary>Typed, strict reads of YAML nodes; every failure names the file, line, column and key.</summary>
/// <remarks>
/// The spec is read from YamlDotNet's node model instead of being deserialised into DTOs, because only
/// the nodes keep the positions that make an error message point at the offending character.
/// </remarks>
internal sealed class YamlSpecReader(string file, string baseDirectory)
{
    public string File { get; } = file;

    public SpecException Fail(YamlNode node, string problem) => Fail(node.Start, problem);

    public SpecException Fail(Mark mark, string problem) => new(File, mark.Line, mark.Column, problem);

    public SpecLocation LocationOf(YamlNode node) => new(File, node.Start.Line, node.Start.Column);

    public MappingView Mapping(YamlNode node, string key, params string[] allowed)
    {
        if (node is not YamlMappingNode mapping)
        {
            string what = key.Length == 0 ? "the spec" : key;
            throw Fail(node, $"{what}: expected a mapping of keys ({string.Join(", ", allowed)}), got {Describe(node)}");
        }

        var values = new Dictionary<string, (YamlScalarNode Key, YamlNode Value)>(StringComparer.Ordinal);
        foreach (var (k, v) in mapping.Children)
        {
            if (k is not YamlScalarNode { Value: { } name } keyNode)
            {
                throw Fail(k, $"{key}: keys must be plain names, got {Describe(k)}");
            }

            if (Array.IndexOf(allowed, name) < 0)
            {
                string where = key.Length == 0 ? "at the top level" : $"in {key}";
                throw Fail(k, $"unknown key '{name}' {where} (expected one of: {string.Join(", ", allowed)})");
            }

            values[name] = (keyNode, v);
        }

        return new MappingView(this, mapping, key, values);
    }

    public string String(YamlNode node, string key)
    {
        var scalar = Scalar(node, key, "a string");
        return scalar.Value!;
    }

    public ulong UInt64(YamlNode node, string key)
    {
        var scalar = Scalar(node, key, "an integer");
        string text = scalar.Value!;
        if (scalar.Style is ScalarStyle.Plain && TryParseUInt64(text, out ulong value))
        {
            return value;
        }

        if (scalar.Style is ScalarStyle.Plain && text.StartsWith('-') && TryParseUInt64(text[1..], out _))
        {
            throw Fail(node, $"{key}: {text} is negative; expected an integer of 0 or more");
        }

        throw Fail(node, $"{key}: expected an integer (decimal or 0x hex), got {Describe(node)}");
    }

    public long Int64InRange(YamlNode node, string key, long min, long max)
    {
        var scalar = Scalar(node, key, "an integer");
        string text = scalar.Value!;
        bool negative = text.StartsWith('-');
        if (scalar.Style is ScalarStyle.Plain && TryParseUInt64(negative ? text[1..] : text, out ulong magnitude))
        {
            // Compare in the signed domain without overflow: magnitudes beyond long are out of range anyway.
            bool fits = magnitude <= long.MaxValue;
            long value = negative ? -(long)magnitude : (long)magnitude;
            return fits && value >= min && value <= max
                ? value
                : throw Fail(node, $"{key}: {text} is out of range ({min}..{max})");
        }

        throw Fail(node, $"{key}: expected an integer, got {Describe(node)}");
    }

    /// <summary>A byte count: an integer, or a number with a binary unit (K, M, G, T, P; optional "iB").</summary>
    public ulong Size(YamlNode node, string key)
    {
        var scalar = Scalar(node, key, "a size");
        string? problem = null;
        if (scalar.Style is ScalarStyle.Plain && SizeParser.TryParse(scalar.Value!, out ulong bytes, out problem))
        {
            return bytes;
        }

        throw Fail(node, problem is null
            ? $"{key}: expected a size such as 2G, 512MiB or 0x80000000, got {Describe(node)}"
            : $"{key}: {problem}");
    }

    public T Choice<T>(YamlNode node, string key, IReadOnlyDictionary<string, T> choices)
    {
        var scalar = Scalar(node, key, "one of " + string.Join(", ", choices.Keys));
        return choices.TryGetValue(scalar.Value!, out var value)
            ? value
            : throw Fail(node, $"{key}: '{scalar.Value}' is not one of: {string.Join(", ", choices.Keys)}");
    }

    /// <summary>A path relative to the spec file, resolved and checked to be an existing regular file.</summary>
    public string ExistingFile(YamlNode node, string key)
    {
        string text = String(node, key);
        if (text.Length == 0)
        {
            throw Fail(node, $"{key}: expected a file path, got an empty string");
        }

        string full = Path.GetFullPath(Path.Combine(baseDirectory, text));
        if (Directory.Exists(full))
        {
            throw Fail(node, $"{key}: '{text}' is a directory, not a file");
        }

        if (!System.IO.File.Exists(full))
        {
            throw Fail(node, $"{key}: file '{text}' not found (looked for {full})");
        }

        try
        {
            InputFile.CheckRegular(full, key);
        }
        catch (InputFileException e)
        {
            throw Fail(node, $"{key}: '{text}' {e.Problem}");
        }

        return full;
    }

    /// <summary>A fixed-length byte string: hex (2·N digits, optional 0x), base64 as QEMU takes it, or <c>{file: path}</c>.</summary>
    public byte[] Blob(YamlNode node, string key, int length)
    {
        if (node is YamlMappingNode)
        {
            var map = Mapping(node, key, "file");
            var fileNode = map.Required("file");
            string path = ExistingFile(fileNode, key + ".file");
            byte[] bytes;
            try
            {
                bytes = InputFile.ReadAllBytes(path, length, key + ".file");
            }
            catch (InputFileException e)
            {
                throw Fail(fileNode, $"{key}.file: '{String(fileNode, key)}': {e.Problem}");
            }

            return bytes.Length == length
                ? bytes
                : throw Fail(fileNode, $"{key}.file: '{String(fileNode, key)}' has {bytes.Length} bytes, expected exactly {length}");
        }

        string text = String(node, key);
        string hex = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
        if (hex.Length == 2 * length && hex.All(char.IsAsciiHexDigit))
        {
            return Convert.FromHexString(hex);
        }

        var buffer = new byte[length + 3];
        if (text.Length == (length + 2) / 3 * 4 && Convert.TryFromBase64String(text, buffer, out int written) && written == length)
        {
            return buffer[..length];
        }

        throw Fail(node, $"{key}: expected {length} bytes as {2 * length} hex digits or {(length + 2) / 3 * 4} base64 characters, got {text.Length} characters");
    }

    public static string Describe(YamlNode node) => node switch
    {
        YamlScalarNode { Style: ScalarStyle.Plain, Value: null or "" or "~" or "null" } => "nothing (null)",
        YamlScalarNode { Style: ScalarStyle.Plain } s => $"'{s.Value}'",
        YamlScalarNode s => $"the string \"{s.Value}\"",
        YamlSequenceNode => "a list",
        YamlMappingNode => "a mapping",
        _ => "an unsupported node",
    };

    private YamlScalarNode Scalar(YamlNode node, string key, string expected)
    {
        if (node is YamlScalarNode { Value: not null } scalar && !IsNull(scalar))
        {
            return scalar;
        }

        throw Fail(node, $"{key}: expected {expected}, got {Describe(node)}");
    }

    private static bool IsNull(YamlScalarNode s) => s.Style is ScalarStyle.Plain && s.Value is "" or "~" or "null";

    /// <summary>Decimal or 0x hex; an underscore may separate two digits (1_000, 0x4000_0000).</summary>
    internal static bool TryParseUInt64(string text, out ulong value)
    {
        value = 0;
        bool hex = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        string digits = hex ? text[2..] : text;
        if (digits.Length == 0 || digits[0] == '_' || digits[^1] == '_' || digits.Contains("__", StringComparison.Ordinal))
        {
            return false;
        }

        digits = digits.Replace("_", string.Empty, StringComparison.Ordinal);
        return hex
            ? ulong.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value)
            : ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }
}
