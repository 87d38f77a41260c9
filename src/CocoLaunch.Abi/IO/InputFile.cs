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
    /// <remarks>
    /// A regular file that reports its length is read into one array of that length (one copy of the file in memory,
    /// not the two or three a growing buffer makes); one byte more is then tried, in case it grew. A file that reports
    /// 0 (/proc) is read in chunks, never trusting Length.
    /// </remarks>
    /// <exception cref="InputFileException">The file is not a readable regular file of at most <paramref name="limit"/> bytes.</exception>
    public static byte[] ReadAllBytes(string path, long limit, string what) =>
        Guarded(path, what, () =>
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
            long length = stream.Length;
            if (length > 0 && length <= limit)
            {
                var exact = new byte[length];
                stream.ReadExactly(exact);
                if (stream.ReadByte() < 0)
                {
                    return exact;
                }

                stream.Position = 0; // it grew while read: fall back to the bounded chunked read
            }

            var buffer = new MemoryStream();
            ForEachChunk(stream, path, limit, what, chunk => buffer.Write(chunk));
            return buffer.ToArray();
        });

    /// <summary>The file's hash and length, read in chunks: a kernel or initrd is hashed without ever being held whole.</summary>
    /// <exception cref="InputFileException">As <see cref="ReadAllBytes"/>.</exception>
    public static (byte[] Hash, long Length) HashData(string path, long limit, string what, System.Security.Cryptography.HashAlgorithmName algorithm) =>
        Guarded(path, what, () =>
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
            using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(algorithm);
            long length = ForEachChunk(stream, path, limit, what, hash.AppendData);
            return (hash.GetHashAndReset(), length);
        });

    /// <summary>Reads the stream to its end in chunks, refusing more than <paramref name="limit"/> bytes; returns the bytes read.</summary>
    private static long ForEachChunk(Stream stream, string path, long limit, string what, Action<ReadOnlySpan<byte>> take)
    {
        // Read one byte past the limit instead of trusting Length: /proc files report 0 and grow while read.
        var chunk = new byte[1 << 16];
        long total = 0;
        int n;
        while ((n = stream.Read(chunk, 0, (int)Math.Min(chunk.Length, limit + 1 - total))) > 0)
        {
            total += n;
            if (total > limit)
            {
                throw new InputFileException(path, $"{what} is larger than {Describe(limit)}, the most CocoLaunch reads");
            }

            take(chunk.AsSpan(0, n));
        }

        return total;
    }

    /// <summary>Checks the file is regular, runs <paramref name="read"/>, and turns I/O failures into <see cref="InputFileException"/>.</summary>
    private static T Guarded<T>(string path, string what, Func<T> read)
    {
        CheckRegular(path, what);
        try
        {
            return read();
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
