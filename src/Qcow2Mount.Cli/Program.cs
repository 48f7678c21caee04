using Qcow2Mount.Cli;

return CommandLine.Run(args);
