using System.Text;

namespace CocoLaunch.Abi.IO;

/// <summary>A user-named input file that cannot be read as one: missing, a directory, a device or FIFO, too large, unreadable.</summary>
/// <remarks>An <see cref="IOException"/>, so that callers which already turn I/O failures into input errors keep doing so.</remarks>
public sealed class InputFileException(string path, string problem) : IOException($"{path}: {problem}")
{
    public string Path { get; } = path;

    public string Problem { get; } = problem;
}

/// <summary>
/// The one way CocoLaunch reads a file a user named (spec, firmware, kernel, initrd, evidence, certificates, keys,
/// reference values, logs): regular files only, and never more than a stated bound. A device such as
/// <c>/dev/zero</c> would otherwise be read without end, and opening a FIFO blocks until a writer appears.
/// </summary>
/// <remarks>It lives in the ABI layer because that is the one project every reader of user files depends on.</remarks>
public static class InputFile
{
    /// <summary>Launch specs, keys, certificates, logs: text a person writes.</summary>
    public const long TextLimit = 1L << 20;

    /// <summary>Evidence and reference-value documents (a quote with its PCK chain is a few KiB; a log of a large firmware is more).</summary>
    public const long DocumentLimit = 64L << 20;

    /// <summary>Kernels and initrds for measured direct boot.</summary>
    public const long BootImageLimit = 1L << 30;

    /// <summary>Reads the whole file; <paramref name="what"/> ("launch spec", "kernel", …) names it in errors.</summary>
    /// <exception cref="InputFileException">The file is not a readable regular file of at most <paramref name="limit"/> bytes.</exception>
    public static byte[] ReadAllBytes(string path, long limit, string what)
    {
        CheckRegular(path, what);
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);

            // Read one byte past the limit instead of trusting Length: /proc files report 0 and grow while read.
            var buffer = new MemoryStream();
            var chunk = new byte[81920];
            int n;
            while ((n = stream.Read(chunk, 0, (int)Math.Min(chunk.Length, limit + 1 - buffer.Length))) > 0)
            {
                buffer.Write(chunk, 0, n);
                if (buffer.Length > limit)
                {
                    throw new InputFileException(path, $"{what} is larger than {Describe(limit)}, the most CocoLaunch reads");
                }
            }

            return buffer.ToArray();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InputFileException(path, $"no such {what} file");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException && e is not InputFileException)
        {
            throw new InputFileException(path, $"cannot read {what}: {e.Message}");
        }
    }

    /// <summary>Reads a UTF-8 text file (a BOM is dropped); bytes that are not UTF-8 are an error naming their offset.</summary>
    public static string ReadAllText(string path, long limit, string what)
    {
        byte[] bytes = ReadAllBytes(path, limit, what);
        var span = bytes.AsSpan();
        if (span.StartsWith(Encoding.UTF8.Preamble))
        {
            span = span[Encoding.UTF8.Preamble.Length..];
        }

        var chars = new char[span.Length];
        var status = System.Text.Unicode.Utf8.ToUtf16(span, chars, out int read, out int written, replaceInvalidSequences: false);
        return status == System.Buffers.OperationStatus.Done
            ? new string(chars, 0, written)
            : read < span.Length
                ? throw new InputFileException(path, $"{what} is not UTF-8 text (invalid byte 0x{span[read]:x2} at offset {read + (bytes.Length - span.Length)})")
                : throw new InputFileException(path, $"{what} is not UTF-8 text (it ends inside a multi-byte sequence at offset {read + (bytes.Length - span.Length)})");
    }

    /// <summary>Refuses what is not a regular file (after following links) before it is opened: opening a FIFO would block.</summary>
    public static void CheckRegular(string path, string what)
    {
        if (Directory.Exists(path))
        {
            throw new InputFileException(path, $"is a directory, not a {what} file");
        }

        if (!File.Exists(path))
        {
            throw new InputFileException(path, $"no such {what} file");
        }

        if (FileType.Of(path) is { } type && type != FileType.Regular)
        {
            throw new InputFileException(path, $"is a {FileType.Name(type)}, not a regular {what} file");
        }
    }

    private static string Describe(long bytes) => bytes >= 1L << 30 ? $"{bytes >> 30} GiB" : bytes >= 1L << 20 ? $"{bytes >> 20} MiB" : $"{bytes >> 10} KiB";
}
