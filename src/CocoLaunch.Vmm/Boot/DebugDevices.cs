using System.Text;

namespace CocoLaunch.Vmm.Boot;

/// <summary>
/// QEMU-compatible debug devices on port I/O (cpu-emulator.md §4): debugcon at 0xE9, a minimal 16550 at COM1
/// 0x3F8, and isa-debug-exit at 0xF4 (iosize 4), so one test guest runs on QEMU and here alike.
/// </summary>
/// <param name="console">Where debugcon bytes go.</param>
/// <param name="serial">Where COM1 bytes go (the same stream as <paramref name="console"/> for a terminal).</param>
public sealed class DebugDevices(Stream console, Stream serial)
{
    public const ushort Debugcon = 0xE9;
    public const ushort Com1 = 0x3F8;
    public const ushort DebugExit = 0xF4;

    /// <summary>PM1a_CNT of QEMU's q35 (ICH9 ACPI at PMBASE 0x600): SLP_EN (bit 13) with SLP_TYP 0, S5, powers off.</summary>
    public const ushort AcpiPm1aControl = 0x604;
    private const uint SleepEnable = 1 << 13;
    private const byte LcrDlab = 0x80;
    private readonly byte[] uartLatches = new byte[8];

    /// <summary>
    /// Debugcon and isa-debug-exit, which QEMU adds to any machine (-debugcon, -device isa-debug-exit): they stay
    /// reachable when a board with its own COM1 and ACPI ports serves the rest.
    /// </summary>
    public static bool IsDebugPort(ushort port) => port == Debugcon || port is >= DebugExit and < DebugExit + 4;

    /// <summary>The status isa-debug-exit asked for: (value &lt;&lt; 1) | 1, as QEMU exits with it.</summary>
    public int? ExitStatus { get; private set; }

    /// <summary>The guest powered off through ACPI (QEMU exits with status 0).</summary>
    public bool PoweredOff { get; private set; }

    /// <summary>Bytes the guest wrote to debugcon and COM1, in order.</summary>
    public long ConsoleBytes { get; private set; }

    public void Out(ushort port, int size, uint value)
    {
        if (port == Debugcon)
        {
            Emit(console, (byte)value);
        }
        else if (port >= DebugExit && port < DebugExit + 4)
        {
            ExitStatus = (int)((value << 1) | 1);
        }
        else if (port == AcpiPm1aControl && size >= 2 && (value & SleepEnable) != 0 && ((value >> 10) & 7) == 0)
        {
            PoweredOff = true;
        }
        else if (port >= Com1 && port < Com1 + 8)
        {
            int reg = port - Com1;
            if (reg == 0 && (uartLatches[3] & LcrDlab) == 0)
            {
                Emit(serial, (byte)value);
            }
            else if (reg is 1 or 3 or 4 or 7 || (reg == 0 && (uartLatches[3] & LcrDlab) != 0))
            {
                uartLatches[reg] = (byte)value;
            }
        }

    }

    /// <summary>An IN: debugcon reads back 0xE9; COM1's LSR says "transmitter empty"; unclaimed ports read all ones.</summary>
    public uint In(ushort port, int size)
    {
        if (port == Debugcon)
        {
            return 0xE9;
        }

        if (port >= Com1 && port < Com1 + 8)
        {
            return (port - Com1) switch
            {
                5 => 0x60, // LSR: THRE | TEMT, no data ready
                0 => 0,
                int reg => uartLatches[reg],
            };
        }

        return size switch { 1 => 0xFF, 2 => 0xFFFF, _ => 0xFFFF_FFFF };
    }

    private void Emit(Stream to, byte b)
    {
        to.WriteByte(b);
        ConsoleBytes++;
    }

    /// <summary>Decodes console bytes for tests and messages.</summary>
    public static string Text(byte[] bytes) => Encoding.Latin1.GetString(bytes);
}
