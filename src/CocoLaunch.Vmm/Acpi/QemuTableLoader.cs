using System.Buffers.Binary;
using System.Text;

using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Acpi;

/// <summary>
/// QEMU's ACPI table-loader script (fw_cfg file etc/table-loader, hw/acpi/bios-linker-loader.c): 128-byte commands,
/// each a u32 command number and its arguments; ALLOCATE (1) names a fw_cfg file in a 56-byte NUL-padded field. The
/// firmware downloads and measures each allocated file in script order (edk2 AcpiPlatformLib), so the order is what
/// RTMR0 depends on.
/// </summary>
public static class QemuTableLoader
{
    private const int CommandSize = 128, FileNameSize = 56;
    private const uint Allocate = 1, AddPointer = 2, AddChecksum = 3, WritePointer = 4;

    /// <summary>The files the script allocates, in its order; <paramref name="name"/> names the script in errors.</summary>
    public static IReadOnlyList<string> AllocatedFiles(ReadOnlySpan<byte> script, string name)
    {
        if (script.Length % CommandSize != 0)
        {
            throw new LaunchException($"{name}: {script.Length} bytes is not a whole number of {CommandSize}-byte table-loader commands");
        }

        var files = new List<string>();
        for (int at = 0; at < script.Length; at += CommandSize)
        {
            uint command = BinaryPrimitives.ReadUInt32LittleEndian(script[at..]);
            switch (command)
            {
                case 0:
                    continue; // the unused tail of the file
                case Allocate:
                    var field = script.Slice(at + 4, FileNameSize);
                    int end = field.IndexOf((byte)0);
                    if (end <= 0)
                    {
                        throw new LaunchException($"{name}: offset 0x{at:x}: ALLOCATE names no file (or one without its NUL within {FileNameSize} bytes)");
                    }

                    files.Add(Encoding.ASCII.GetString(field[..end]));
                    break;
                case AddPointer or AddChecksum or WritePointer:
                    break;
                default:
                    throw new LaunchException($"{name}: offset 0x{at:x}: command {command} is not a table-loader command (1 to 4)");
            }
        }

        return files;
    }
}
