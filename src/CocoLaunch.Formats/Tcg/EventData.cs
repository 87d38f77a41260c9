using System.Buffers.Binary;
using System.Text;

namespace CocoLaunch.Formats.Tcg;

/// <summary>
/// What an event's data says, in one line, for the types firmware logs (TCG PC Client Platform Firmware Profile
/// §10.4, UEFI 2.10 §38): variable names, firmware blob and handoff-table descriptions, strings, image load events.
/// Data that does not parse as its type's structure is shown as its size and bytes, never dropped.
/// </summary>
public static class EventData
{
    public static string Describe(CcEvent e)
    {
        var d = e.Data;
        try
        {
            return e.Type switch
            {
                TcgEventType.EfiVariableDriverConfig or TcgEventType.EfiVariableBoot or TcgEventType.EfiVariableBoot2
                    or TcgEventType.EfiVariableAuthority => Variable(d),
                TcgEventType.EfiPlatformFirmwareBlob2 => $"{Described(d, out int at)} base 0x{U64(d, at):x} length 0x{U64(d, at + 8):x}",
                TcgEventType.EfiPlatformFirmwareBlob => $"base 0x{U64(d, 0):x} length 0x{U64(d, 8):x}",
                TcgEventType.EfiHandoffTables2 => $"{Described(d, out int at)} {Tables(d, at)}",
                TcgEventType.EfiHandoffTables => Tables(d, 0),
                TcgEventType.EfiBootServicesApplication or TcgEventType.EfiBootServicesDriver or TcgEventType.EfiRuntimeServicesDriver => Image(d),
                TcgEventType.Separator when d.Length == 4 => $"separator 0x{U32(d, 0):x8}",
                TcgEventType.EventTag when d.Length >= 8 => Tagged(d),
                // UEFI_GPT_DATA: the 92-byte partition table header, the partition count, the entries.
                TcgEventType.EfiGptEvent or TcgEventType.EfiGptEvent2 when d.Length >= 100 => $"GPT \"{Ascii(d.AsSpan(0, 8))}\", {U64(d, 92)} partition(s)",
                _ => Text(d), // strings (EV_EFI_ACTION, EV_IPL, EV_PLATFORM_CONFIG_FLAGS, EV_NO_ACTION's signatures) and the rest
            };
        }
        catch (Exception x) when (x is ArgumentException or IndexOutOfRangeException)
        {
            // Short or inconsistent data for its type (a field past the end, a length past the data, a GUID cut short).
            return $"{d.Length} bytes that do not parse as {e.TypeName}'s structure: {Convert.ToHexStringLower(d.AsSpan(0, Math.Min(d.Length, 32)))}{(d.Length > 32 ? "…" : string.Empty)}";
        }
    }

    /// <summary>UEFI_VARIABLE_DATA: GUID, name length in characters, data length, UTF-16LE name, data.</summary>
    private static string Variable(byte[] d)
    {
        var guid = new Guid(d.AsSpan(0, 16));
        ulong nameLength = U64(d, 16), dataLength = U64(d, 24);
        if (nameLength > (ulong)(d.Length - 32) / 2 || dataLength > (ulong)d.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(d));
        }

        string name = Encoding.Unicode.GetString(d, 32, (int)nameLength * 2);
        return $"{guid}:{name} ({dataLength} bytes of data)";
    }

    /// <summary>A one-byte size, then that many bytes of description (the "…2" blob and handoff events).</summary>
    private static string Described(byte[] d, out int next)
    {
        int size = d[0];
        next = 1 + size;
        return $"\"{Ascii(d.AsSpan(1, size))}\"";
    }

    /// <summary>A count, then {vendor GUID, table pointer} per table.</summary>
    private static string Tables(byte[] d, int at)
    {
        ulong count = U64(d, at);
        if (count > (ulong)(d.Length - at - 8) / 24)
        {
            throw new ArgumentOutOfRangeException(nameof(d));
        }

        var tables = Enumerable.Range(0, (int)count).Select(i => $"{new Guid(d.AsSpan(at + 8 + (24 * i), 16))} at 0x{U64(d, at + 24 + (24 * i)):x}");
        return $"{count} table(s): {string.Join(", ", tables)}";
    }

    /// <summary>UEFI_IMAGE_LOAD_EVENT: location, length, link-time address, device path length, device path.</summary>
    private static string Image(byte[] d)
    {
        ulong pathLength = U64(d, 24);
        if (pathLength > (ulong)(d.Length - 32))
        {
            throw new ArgumentOutOfRangeException(nameof(d));
        }

        var files = FilePaths(d.AsSpan(32, (int)pathLength));
        return $"image at 0x{U64(d, 0):x}, 0x{U64(d, 8):x} bytes, device path {pathLength} bytes{(files.Count > 0 ? " " + string.Join("/", files) : string.Empty)}";
    }

    /// <summary>The file-path nodes (type 4, subtype 4) of a device path.</summary>
    private static List<string> FilePaths(ReadOnlySpan<byte> path)
    {
        var files = new List<string>();
        int at = 0;
        while (at + 4 <= path.Length)
        {
            int length = BinaryPrimitives.ReadUInt16LittleEndian(path[(at + 2)..]);
            if (length < 4 || at + length > path.Length || path[at] == 0x7F)
            {
                break;
            }

            if (path[at] == 4 && path[at + 1] == 4)
            {
                files.Add($"\"{Encoding.Unicode.GetString(path.Slice(at + 4, length - 4)).TrimEnd('\0')}\"");
            }

            at += length;
        }

        return files;
    }

    /// <summary>TCG_PCClientTaggedEvent: tag ID, data size, data (Linux's EFI stub tags the initrd and the command line).</summary>
    private static string Tagged(byte[] d)
    {
        uint id = U32(d, 0), size = U32(d, 4);
        if (size > (uint)(d.Length - 8))
        {
            throw new ArgumentOutOfRangeException(nameof(d));
        }

        return $"tag 0x{id:x8}, {size} bytes: {Text(d.AsSpan(8, (int)size).ToArray())}";
    }

    /// <summary>Printable text as text (ASCII, or UTF-16LE when every other byte is zero), anything else as hex.</summary>
    private static string Text(byte[] d)
    {
        if (d.Length == 0)
        {
            return "(no data)";
        }

        if (d.Length % 2 == 0 && d.Length >= 4 && Enumerable.Range(0, d.Length / 2).All(i => d[(2 * i) + 1] == 0))
        {
            string wide = Encoding.Unicode.GetString(d).TrimEnd('\0');
            if (wide.Length > 0 && wide.All(c => c >= 0x20 && c < 0x7F))
            {
                return $"\"{wide}\" (UTF-16)";
            }
        }

        string ascii = Encoding.ASCII.GetString(d).TrimEnd('\0');
        return ascii.Length > 0 && ascii.All(c => c >= 0x20 && c < 0x7F)
            ? $"\"{ascii}\""
            : $"{d.Length} bytes: {Convert.ToHexStringLower(d.AsSpan(0, Math.Min(d.Length, 32)))}{(d.Length > 32 ? "…" : string.Empty)}";
    }

    private static string Ascii(ReadOnlySpan<byte> b) => string.Concat(Encoding.ASCII.GetString(b).TrimEnd('\0').Select(c => c >= 0x20 && c < 0x7F ? c : '.'));

    private static ulong U64(byte[] d, int at) => BinaryPrimitives.ReadUInt64LittleEndian(d.AsSpan(at, 8));

    private static uint U32(byte[] d, int at) => BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(at, 4));
}
