using CocoLaunch.Vmm.Devices;

namespace CocoLaunch.Vmm.Tests.Devices;

/// <summary>Interrupt lines that remember every level change, in order.</summary>
internal sealed class RecordingLines : IInterruptLines
{
    public List<(int Gsi, bool Asserted)> Changes { get; } = [];

    public bool IsAsserted(int gsi) => Changes.LastOrDefault(c => c.Gsi == gsi).Asserted;

    public void SetLevel(int gsi, bool asserted) => Changes.Add((gsi, asserted));
}
