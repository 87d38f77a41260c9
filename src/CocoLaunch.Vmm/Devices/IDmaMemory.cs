namespace CocoLaunch.Vmm.Devices;

/// <summary>
/// Guest memory as a device reaches it by DMA: through the VMM's own mapping of guest RAM, so on a confidential
/// platform only shared pages. A range the device cannot reach (private, or not RAM) fails the whole access.
/// </summary>
public interface IDmaMemory
{
    bool TryRead(Abi.Gpa gpa, Span<byte> destination);

    bool TryWrite(Abi.Gpa gpa, ReadOnlySpan<byte> source);
}
